// SPDX-License-Identifier: MPL-2.0
//! The reader against every recorded vector: AWS kvssink PutMedia bodies (checked against
//! the mkvinfo/ffprobe summaries and EBML dumps recorded beside them) and real GetMedia
//! output (checked against the counts in its README).

mod mkv_support;

use std::collections::BTreeMap;
use std::path::Path;

use kvs_core::mkv::{MkvError, MkvEvent, MkvEventAt, Tag, TrackInfo};
use mkv_support::{count, mkv_files, parse_collect, read, vectors_dir};

const CHUNK_SIZES: [usize; 3] = [1, 7, 4096];

/// Every chunking must give the same events (and the same error, if any) as feeding the
/// whole file at once.
fn assert_chunking_invariant(path: &Path) -> (Vec<MkvEventAt>, Option<MkvError>) {
    let data = read(path);
    let whole = parse_collect(&data, data.len());
    for chunk in CHUNK_SIZES {
        let chunked = parse_collect(&data, chunk);
        assert!(
            chunked == whole,
            "{}: events differ between {chunk}-byte chunks and whole-file input",
            path.display()
        );
    }
    whole
}

// ---- what the recorded summary says ------------------------------------------------------

#[derive(Debug, Default)]
struct Summary {
    segment_uid: Option<Vec<u8>>,
    track_numbers: Vec<u64>,
    codec_ids: Vec<String>,
    cpd_sizes: Vec<usize>,
    pixel_widths: Vec<u32>,
    sampling_frequencies: Vec<f64>,
    /// (cluster start in ns, block count, leading "<track><K|->" tokens)
    clusters: Vec<(u64, usize, Vec<String>)>,
    /// First frame sizes mkvinfo printed.
    first_frame_sizes: Vec<usize>,
    /// "TAGS" after the cluster pattern: the body ends with Tags.
    tail_tags: bool,
    tag_names: Vec<String>,
    /// ffprobe stream index → packets read.
    packets: BTreeMap<usize, usize>,
}

fn parse_hms_ns(s: &str) -> u64 {
    let mut parts = s.split(':');
    let (h, m, rest) = (
        parts.next().expect("hours"),
        parts.next().expect("minutes"),
        parts.next().expect("seconds"),
    );
    let (sec, frac) = rest.split_once('.').expect("fraction");
    let whole: u64 = h.parse::<u64>().unwrap() * 3600
        + m.parse::<u64>().unwrap() * 60
        + sec.parse::<u64>().unwrap();
    let frac_ns: u64 = format!("{frac:0<9}")[..9].parse().unwrap();
    whole * 1_000_000_000 + frac_ns
}

fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.find(key).map(|i| line[i + key.len()..].trim())
}

fn parse_summary(text: &str) -> Summary {
    let mut s = Summary::default();
    let mut section = "";
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("--- ") {
            section = name;
            continue;
        }
        if section.starts_with("mkvinfo") {
            if let Some(v) = after(line, "Segment UID:") {
                s.segment_uid = Some(
                    v.split_whitespace()
                        .map(|b| u8::from_str_radix(b.trim_start_matches("0x"), 16).unwrap())
                        .collect(),
                );
            } else if let Some(v) = after(line, "Track number:") {
                s.track_numbers
                    .push(v.split_whitespace().next().unwrap().parse().unwrap());
            } else if let Some(v) = after(line, "Codec ID:") {
                s.codec_ids.push(v.to_owned());
            } else if let Some(v) = after(line, "Codec's private data: size") {
                s.cpd_sizes
                    .push(v.split_whitespace().next().unwrap().parse().unwrap());
            } else if let Some(v) = after(line, "Pixel width:") {
                s.pixel_widths.push(v.parse().unwrap());
            } else if let Some(v) = after(line, "Sampling frequency:") {
                s.sampling_frequencies.push(v.parse().unwrap());
            } else if let Some(v) = after(line, "Frame with size") {
                s.first_frame_sizes.push(v.parse().unwrap());
            }
        } else if section.starts_with("cluster pattern") {
            if line == "TAGS" {
                s.tail_tags = true;
            } else if let Some((ts, rest)) = line.split_once("  n=") {
                let mut words = rest.split_whitespace();
                let n = words.next().unwrap().parse().unwrap();
                let tokens = words.take_while(|w| *w != "...").map(str::to_owned);
                s.clusters
                    .push((parse_hms_ns(ts.trim()), n, tokens.collect()));
            }
        } else if section == "tags" {
            if let Some(v) = after(line, "Name:") {
                s.tag_names.push(v.to_owned());
            }
        } else if section == "ffprobe"
            && let Some((idx, n)) = line
                .strip_prefix("stream|index=")
                .and_then(|rest| rest.split_once("|nb_read_packets="))
        {
            s.packets.insert(idx.parse().unwrap(), n.parse().unwrap());
        }
    }
    s
}

// ---- what we parsed -------------------------------------------------------------------------

#[derive(Debug)]
struct Parsed {
    timecode_scale: u64,
    segment_uid: Option<[u8; 16]>,
    tracks: Vec<TrackInfo>,
    /// (timecode, blocks as (track, key), first frame sizes)
    clusters: Vec<(u64, Vec<(u64, bool)>)>,
    frame_sizes: Vec<usize>,
    /// Tags events after the last cluster.
    tail_tags: Vec<Tag>,
    clusters_ended: usize,
}

fn summarise(events: &[MkvEventAt]) -> Parsed {
    let mut p = Parsed {
        timecode_scale: 0,
        segment_uid: None,
        tracks: Vec::new(),
        clusters: Vec::new(),
        frame_sizes: Vec::new(),
        tail_tags: Vec::new(),
        clusters_ended: 0,
    };
    for e in events {
        match &e.event {
            MkvEvent::Info(info) => {
                p.timecode_scale = info.timecode_scale;
                p.segment_uid = info.segment_uid;
            }
            MkvEvent::Tracks(t) => p.tracks = t.clone(),
            MkvEvent::ClusterStart { timecode, .. } => {
                p.clusters.push((*timecode, Vec::new()));
                p.tail_tags.clear();
            }
            MkvEvent::Block(b) => {
                p.clusters
                    .last_mut()
                    .expect("block inside a cluster")
                    .1
                    .push((b.track_number, b.keyframe));
                p.frame_sizes.push(b.payload.len());
            }
            MkvEvent::ClusterEnd => p.clusters_ended += 1,
            MkvEvent::Tags(t) => p.tail_tags.extend(t.iter().cloned()),
            _ => {}
        }
    }
    p
}

fn check_against_summary(name: &str, p: &Parsed, s: &Summary) {
    let uid = p.segment_uid.map(|u| u.to_vec());
    assert_eq!(uid, s.segment_uid, "{name}: SegmentUID");
    let numbers: Vec<u64> = p.tracks.iter().map(|t| t.number).collect();
    assert_eq!(numbers, s.track_numbers, "{name}: track numbers");
    let codecs: Vec<&str> = p.tracks.iter().map(|t| t.codec_id.as_str()).collect();
    assert_eq!(codecs, s.codec_ids, "{name}: codec ids");
    let cpd: Vec<usize> = p
        .tracks
        .iter()
        .filter_map(|t| t.codec_private.as_ref().map(|c| c.len()))
        .collect();
    assert_eq!(cpd, s.cpd_sizes, "{name}: CodecPrivate sizes");
    let widths: Vec<u32> = p
        .tracks
        .iter()
        .filter_map(|t| t.video.map(|v| v.pixel_width))
        .collect();
    assert_eq!(widths, s.pixel_widths, "{name}: pixel widths");
    let rates: Vec<f64> = p
        .tracks
        .iter()
        .filter_map(|t| t.audio.map(|a| a.sampling_frequency))
        .collect();
    assert_eq!(rates, s.sampling_frequencies, "{name}: sampling rates");

    assert_eq!(p.clusters.len(), s.clusters.len(), "{name}: cluster count");
    assert_eq!(
        p.clusters_ended,
        s.clusters.len(),
        "{name}: ClusterEnd count"
    );
    for (i, ((tc, blocks), (ns, n, tokens))) in p.clusters.iter().zip(&s.clusters).enumerate() {
        assert_eq!(tc * p.timecode_scale, *ns, "{name}: cluster {i} timestamp");
        assert_eq!(blocks.len(), *n, "{name}: cluster {i} block count");
        let ours: Vec<String> = blocks
            .iter()
            .take(tokens.len())
            .map(|(t, k)| format!("{t}{}", if *k { 'K' } else { '-' }))
            .collect();
        assert_eq!(&ours, tokens, "{name}: cluster {i} track/key pattern");
    }
    assert!(
        !s.first_frame_sizes.is_empty(),
        "{name}: summary lists frames"
    );
    assert!(
        !s.clusters.is_empty() && !s.packets.is_empty(),
        "{name}: summary parsed"
    );
    assert_eq!(
        p.frame_sizes[..s.first_frame_sizes.len()],
        s.first_frame_sizes[..],
        "{name}: first frame sizes"
    );

    let tail_names: Vec<&str> = p
        .tail_tags
        .iter()
        .flat_map(|t| t.simple_tags.iter().map(|st| st.name.as_str()))
        .collect();
    assert_eq!(!tail_names.is_empty(), s.tail_tags, "{name}: trailing Tags");
    assert_eq!(tail_names, s.tag_names, "{name}: trailing tag names");

    assert_eq!(s.packets.len(), p.tracks.len(), "{name}: ffprobe streams");
    for (idx, packets) in &s.packets {
        let track = p.tracks[*idx].number;
        let blocks: usize = p
            .clusters
            .iter()
            .map(|(_, b)| b.iter().filter(|(t, _)| *t == track).count())
            .sum();
        assert_eq!(blocks, *packets, "{name}: blocks of track {track}");
    }
}

/// Every element the EBML dump lists at an offset must be reported by us at that offset.
fn check_against_ebmldump(name: &str, events: &[MkvEventAt], dump: &str) {
    let by_offset: BTreeMap<u64, &MkvEvent> = events
        .iter()
        .filter(|e| !matches!(e.event, MkvEvent::ClusterEnd | MkvEvent::SegmentEnd))
        .map(|e| (e.offset, &e.event))
        .collect();
    let mut checked = 0;
    for line in dump.lines() {
        let mut words = line.split_whitespace();
        let (Some(kind), Some(at)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(offset) = at.strip_prefix('@').and_then(|o| o.parse::<u64>().ok()) else {
            continue;
        };
        let ev = by_offset.get(&offset).copied();
        let ok = match (kind, ev) {
            ("EBML", Some(MkvEvent::EbmlHeader(h))) => h.doc_type == "matroska",
            ("Segment", Some(MkvEvent::SegmentStart { size: None })) => true,
            ("Info", Some(MkvEvent::Info(_))) => true,
            ("Tracks", Some(MkvEvent::Tracks(_))) => true,
            ("Cluster", Some(MkvEvent::ClusterStart { .. })) => true,
            ("Tags", Some(MkvEvent::Tags(_))) => true,
            ("Position", Some(MkvEvent::Skipped { id: 0xA7, .. })) => true,
            ("SimpleBlock", Some(MkvEvent::Block(b))) => {
                let want = format!(
                    "track={} rel_tc={} flags=0x{:02x} payload={}",
                    b.track_number,
                    b.relative_timecode,
                    if b.keyframe { 0x80 } else { 0 },
                    b.payload.len()
                );
                line.contains(&want)
            }
            // Children of elements we decode whole (EBMLVersion, TrackEntry, Timecode, …)
            // have no event of their own.
            (
                "EBML" | "Segment" | "Info" | "Tracks" | "Cluster" | "Tags" | "Position"
                | "SimpleBlock",
                _,
            ) => false,
            _ => continue,
        };
        assert!(ok, "{name}: dump line {line:?} vs our event {ev:?}");
        checked += 1;
    }
    assert!(checked >= 8, "{name}: only {checked} dump lines checked");
    let clusters: usize = dump
        .lines()
        .find_map(|l| l.strip_prefix("clusters="))
        .expect("clusters= line")
        .parse()
        .unwrap();
    let ours = count(events, |e| matches!(e, MkvEvent::ClusterStart { .. }));
    assert_eq!(ours, clusters, "{name}: clusters= in the dump");
}

#[test]
fn official_kvssink_captures() {
    let files = mkv_files("official-kvssink");
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (events, error) = assert_chunking_invariant(path);
        assert_eq!(error, None, "{name}");
        let summary_path = path.with_extension("summary.txt");
        let summary = std::fs::read_to_string(&summary_path)
            .unwrap_or_else(|e| panic!("{}: {e}", summary_path.display()));
        check_against_summary(&name, &summarise(&events), &parse_summary(&summary));
        let dump_path = path.with_extension("ebmldump.txt");
        let dump = std::fs::read_to_string(&dump_path)
            .unwrap_or_else(|e| panic!("{}: {e}", dump_path.display()));
        check_against_ebmldump(&name, &events, &dump);
        // One document: header, unknown-size Segment ended by the end of input.
        assert_eq!(count(&events, |e| matches!(e, MkvEvent::EbmlHeader(_))), 1);
        assert_eq!(events.last().map(|e| &e.event), Some(&MkvEvent::SegmentEnd));
    }
}

/// (file, documents, frames) from the table in aws-getmedia/README.md.
fn getmedia_table() -> Vec<(String, usize, usize)> {
    let readme = std::fs::read_to_string(vectors_dir().join("aws-getmedia/README.md"))
        .expect("aws-getmedia/README.md");
    let rows: Vec<(String, usize, usize)> = readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let leading_int =
                |c: &str| -> usize { c.split_whitespace().next().unwrap().parse().unwrap() };
            (
                cells[1].trim_matches('`').to_owned(),
                leading_int(cells[2]),
                leading_int(cells[3]),
            )
        })
        .collect();
    assert!(!rows.is_empty(), "README table not found");
    rows
}

fn tag_value<'a>(tags: &'a [Tag], name: &str) -> Option<&'a str> {
    tags.iter()
        .flat_map(|t| &t.simple_tags)
        .find(|st| st.name == name)
        .map(|st| st.value.as_str())
}

#[test]
fn aws_getmedia_outputs() {
    let table = getmedia_table();
    let files = mkv_files("aws-getmedia");
    assert_eq!(files.len(), table.len(), "README lists every file");
    for (file, docs, frames) in table {
        let path = vectors_dir().join("aws-getmedia").join(&file);
        let (events, error) = assert_chunking_invariant(&path);
        let blocks = count(&events, |e| matches!(e, MkvEvent::Block(_)));
        // A file that stops inside its last document (recorded that way: its last Cluster
        // declares more bytes than the file holds) must fail with `Truncated` at the start
        // of the cut block; everything before it is still reported.
        let truncated = match error {
            None => false,
            Some(MkvError::Truncated { offset }) => {
                let last_block = events
                    .iter()
                    .rev()
                    .find(|e| matches!(e.event, MkvEvent::Block(_)))
                    .expect("blocks before the cut");
                assert!(
                    offset > last_block.offset,
                    "{file}: cut after the last block"
                );
                let data = read(&path);
                assert_eq!(
                    data.get(offset as usize),
                    Some(&0xA3),
                    "{file}: the cut element is a SimpleBlock"
                );
                true
            }
            Some(e) => panic!("{file}: {e}"),
        };
        let ended_docs = docs - usize::from(truncated);
        let headers = count(&events, |e| matches!(e, MkvEvent::EbmlHeader(_)));
        assert_eq!(headers, docs, "{file}: documents");
        assert_eq!(
            count(&events, |e| matches!(e, MkvEvent::SegmentStart { .. })),
            docs
        );
        assert_eq!(
            count(&events, |e| matches!(e, MkvEvent::SegmentEnd)),
            ended_docs
        );
        // README "frames" counts the cut block too (ffprobe, which drops it, says one less).
        assert_eq!(blocks + usize::from(truncated), frames, "{file}: frames");
        // README: "documents (= fragments)", one Cluster each when there are frames.
        let clusters = count(&events, |e| matches!(e, MkvEvent::ClusterStart { .. }));
        if frames > 0 {
            assert_eq!(clusters, docs, "{file}: clusters");
            assert_eq!(
                count(&events, |e| matches!(e, MkvEvent::ClusterEnd)),
                ended_docs
            );
        }

        // Per document: the service's tags, continuation token = fragment number.
        let mut documents: Vec<Vec<&MkvEvent>> = Vec::new();
        for e in &events {
            if matches!(e.event, MkvEvent::EbmlHeader(_)) {
                documents.push(Vec::new());
            }
            documents.last_mut().expect("document").push(&e.event);
        }
        for (i, doc) in documents.iter().enumerate() {
            if !doc
                .iter()
                .any(|e| matches!(e, MkvEvent::ClusterStart { .. }))
            {
                continue;
            }
            // The cut document never got its closing Tags.
            let complete = doc.iter().any(|e| matches!(e, MkvEvent::SegmentEnd));
            let tags: Vec<Tag> = doc
                .iter()
                .filter_map(|e| match e {
                    MkvEvent::Tags(t) => Some(t.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            let fragment = tag_value(&tags, "AWS_KINESISVIDEO_FRAGMENT_NUMBER")
                .unwrap_or_else(|| panic!("{file} doc {i}: fragment number tag"));
            assert_eq!(
                fragment.len(),
                47,
                "{file} doc {i}: 47-digit fragment number"
            );
            for name in [
                "AWS_KINESISVIDEO_SERVER_TIMESTAMP",
                "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP",
            ] {
                assert!(tag_value(&tags, name).is_some(), "{file} doc {i}: {name}");
            }
            if complete {
                assert_eq!(
                    tag_value(&tags, "AWS_KINESISVIDEO_CONTINUATION_TOKEN"),
                    Some(fragment),
                    "{file} doc {i}: continuation token"
                );
                assert!(
                    tag_value(&tags, "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW").is_some(),
                    "{file} doc {i}: millis behind now"
                );
            }
            // Tracks are announced before the cluster of every document.
            let tracks_at = doc.iter().position(|e| matches!(e, MkvEvent::Tracks(_)));
            let cluster_at = doc
                .iter()
                .position(|e| matches!(e, MkvEvent::ClusterStart { .. }));
            assert!(tracks_at < cluster_at, "{file} doc {i}: Tracks first");
        }

        if file == "test_mixed_tags.mkv" {
            // README: producer tags testTag_0…testTag_4 both before Info/Tracks and after
            // the Cluster.
            for (i, doc) in documents.iter().enumerate() {
                let cluster_at = doc
                    .iter()
                    .position(|e| matches!(e, MkvEvent::ClusterStart { .. }))
                    .expect("cluster");
                let names = |evs: &[&MkvEvent]| -> Vec<String> {
                    evs.iter()
                        .filter_map(|e| match e {
                            MkvEvent::Tags(t) => Some(t.clone()),
                            _ => None,
                        })
                        .flatten()
                        .flat_map(|t| t.simple_tags)
                        .map(|st| st.name)
                        .filter(|n| n.starts_with("testTag_"))
                        .collect()
                };
                let after_names = names(&doc[cluster_at..]);
                for k in 0..5 {
                    let want = format!("testTag_{k}");
                    assert!(after_names.contains(&want), "{file} doc {i}: {want} after");
                }
                if i == 0 {
                    let before_names = names(&doc[..cluster_at]);
                    assert!(before_names.contains(&"testTag_0".to_owned()));
                }
            }
        }
        if file == "output-get-media-equal-timecode.mkv" {
            // README: two frames with the same timecode.
            let mut seen = std::collections::HashSet::new();
            let mut cluster_tc = 0;
            let mut duplicate = false;
            for e in &events {
                match &e.event {
                    MkvEvent::ClusterStart { timecode, .. } => cluster_tc = *timecode,
                    MkvEvent::Block(b) => {
                        let tc = cluster_tc as i64 + i64::from(b.relative_timecode);
                        duplicate |= !seen.insert((b.track_number, tc));
                    }
                    _ => {}
                }
            }
            assert!(duplicate, "{file}: expected two frames sharing a timecode");
        }
    }
}
