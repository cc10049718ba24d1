// SPDX-License-Identifier: MPL-2.0
//! The AWS CLI (v1, from the project's virtualenv) as an independent client of the media
//! APIs: streams filled by replaying kvssink recordings as PutMedia, then
//! `kinesis-video-media get-media` (EARLIEST), `kinesis-video-archived-media list-fragments`
//! (pages and timestamp ranges) and `get-media-for-fragment-list`, whose output ffprobe
//! decodes to the frame counts of the original recording.

mod control_support;
mod media_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use control_support::{ACCESS_KEY, AwsEnv, SECRET_KEY, venv_bin};
use kvs_core::putmedia::Ack;
use kvs_local::{Config, Server, ServerHandle};
use media_support::http::put_capture;
use media_support::*;
use serde_json::Value;

async fn server(dir: &Path) -> ServerHandle {
    let mut config = Config::new(dir);
    // The replayed PutMedia bodies go unsigned; the CLI signs its requests anyway.
    config.auth.allow_anonymous = true;
    Server::start(config).await.expect("server starts")
}

/// Runs `aws <service> <command> …` against the server.
struct Cli {
    env: AwsEnv,
    aws: PathBuf,
    base: String,
}

impl Cli {
    fn new(base: &str) -> Self {
        Self {
            env: AwsEnv::new(),
            aws: venv_bin("aws"),
            base: base.to_owned(),
        }
    }

    fn command(&self, service: &str, args: &[&str]) -> Command {
        let mut cmd = self.env.command(&self.aws, ACCESS_KEY, SECRET_KEY);
        cmd.arg(service).args(args).args([
            "--endpoint-url",
            &self.base,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ]);
        cmd
    }

    /// Runs to completion; stdout as JSON (Null when empty), failing with stderr otherwise.
    fn ok(&self, service: &str, args: &[&str]) -> Value {
        let out = self
            .command(service, args)
            .output()
            .expect("run aws (scripts/install-deps.sh installs it)");
        assert!(
            out.status.success(),
            "aws {service} {args:?} failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "aws {args:?}: stdout not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs, expects a service error exit, returns stderr.
    fn err(&self, service: &str, args: &[&str]) -> String {
        let out = self.command(service, args).output().expect("run aws");
        assert!(
            matches!(out.status.code(), Some(254) | Some(255)),
            "aws {args:?}: expected a service error exit, got {:?}",
            out.status
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// Kills a child process (and reaps it) when the test ends, whatever happens.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Replays a recording as PutMedia; returns the ACKs once every fragment is PERSISTED.
async fn put_media(base: &str, stream: &str, cap: &Capture) -> Vec<Ack> {
    put_capture(base, stream, cap, cap.buffering_timecodes.len()).await
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

const EBML_MAGIC: &[u8] = &[0x1A, 0x45, 0xDF, 0xA3];
const TOKEN_TAG: &[u8] = b"AWS_KINESISVIDEO_CONTINUATION_TOKEN";

/// `aws kinesis-video-media get-media … EARLIEST out`: kvs-local, like the service, keeps a
/// GetMedia open while the stream could still get data, so the CLI never returns by itself.
/// The CLI also reads the payload in fixed-size blocks and writes a block only once it is
/// full, so the tail of the last document stays in the CLI until more data follows: the
/// caller has ingested a trailer after the recording. Once `n` documents are whole on disk
/// the CLI is killed and the file cut before document `n + 1`.
fn cli_get_media_earliest(cli: &Cli, stream: &str, out: &Path, n: usize) {
    let child = cli
        .command(
            "kinesis-video-media",
            &[
                "get-media",
                "--stream-name",
                stream,
                "--start-selector",
                "StartSelectorType=EARLIEST",
                out.to_str().expect("utf-8 path"),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run aws get-media (scripts/install-deps.sh installs it)");
    let mut child = ChildGuard(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let data = loop {
        let data = std::fs::read(out).unwrap_or_default();
        if count(&data, TOKEN_TAG) >= n && count(&data, EBML_MAGIC) > n {
            break data;
        }
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            let mut err = String::new();
            if let Some(mut e) = child.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("aws get-media exited early ({status}): {err}");
        }
        assert!(
            Instant::now() < deadline,
            "aws get-media wrote {} of {n} documents in 60 s",
            count(&data, TOKEN_TAG)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(child);
    let cut = data
        .windows(EBML_MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == EBML_MAGIC)
        .nth(n)
        .map(|(i, _)| i)
        .expect("document n + 1 present");
    std::fs::write(out, &data[..cut]).expect("rewrite get-media output");
}

fn fragments_of(v: &Value) -> Vec<Value> {
    v["Fragments"].as_array().expect("Fragments").clone()
}

fn number(f: &Value) -> String {
    f["FragmentNumber"]
        .as_str()
        .expect("FragmentNumber")
        .to_owned()
}

async fn cli_round_trip(name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(dir.path()).await;
    let base = srv.base_url().to_owned();
    let cli = Cli::new(&base);
    let stream = format!("cli-{name}");
    cli.ok(
        "kinesisvideo",
        &[
            "create-stream",
            "--stream-name",
            &stream,
            "--data-retention-in-hours",
            "2",
        ],
    );
    let cap = capture(name);
    let n = cap.buffering_timecodes.len();
    assert!(n >= 4, "{name}: enough fragments for pages and ranges");
    let acks = put_media(&base, &stream, &cap).await;
    let acked: Vec<String> = check_ack_sequence(&acks, true)
        .into_iter()
        .map(|f| f.0)
        .collect();

    let original = dir.path().join("original.mkv");
    std::fs::write(&original, &cap.body).expect("write original");
    let want_frames = ffprobe_frames(&original);
    assert!(!want_frames.is_empty(), "{name}: ffprobe sees the tracks");

    // The CLI is blocking; keep it off the runtime's workers, which serve the server.
    let (cli, listed, out_list) = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        let stream = stream.clone();
        move || {
            // The documented contract: a FragmentSelector is required without a NextToken.
            let bare = cli.err(
                "kinesis-video-archived-media",
                &["list-fragments", "--stream-name", &stream],
            );
            assert!(bare.contains("InvalidArgumentException"), "{bare}");
            // Everything (a server-time range around now) in two pages by hand: the CLI
            // does not paginate itself under --no-paginate.
            let now = kvs_local::media::now_ms() / 1000;
            let all = format!(
                "FragmentSelectorType=SERVER_TIMESTAMP,TimestampRange={{StartTimestamp={},EndTimestamp={}}}",
                now - 600,
                now + 600
            );
            let half = n.div_ceil(2).to_string();
            let page1 = cli.ok(
                "kinesis-video-archived-media",
                &[
                    "list-fragments",
                    "--stream-name",
                    &stream,
                    "--fragment-selector",
                    &all,
                    "--max-results",
                    &half,
                    "--no-paginate",
                ],
            );
            let token = page1["NextToken"].as_str().expect("NextToken").to_owned();
            let page2 = cli.ok(
                "kinesis-video-archived-media",
                &[
                    "list-fragments",
                    "--stream-name",
                    &stream,
                    "--next-token",
                    &token,
                    "--no-paginate",
                ],
            );
            assert!(page2.get("NextToken").is_none_or(Value::is_null), "{page2}");
            let mut listed = fragments_of(&page1);
            assert_eq!(listed.len(), n.div_ceil(2));
            listed.extend(fragments_of(&page2));

            // The CLI's own paginator, small pages, must give the same set.
            let auto = cli.ok(
                "kinesis-video-archived-media",
                &[
                    "list-fragments",
                    "--stream-name",
                    &stream,
                    "--fragment-selector",
                    &all,
                    "--page-size",
                    "2",
                ],
            );
            let mut a: Vec<String> = fragments_of(&auto).iter().map(number).collect();
            a.sort();
            let mut b: Vec<String> = listed.iter().map(number).collect();
            b.sort();
            assert_eq!(a, b, "CLI auto-pagination lists the same fragments");

            let out_list = dir.join("list.mkv");
            // The outfile goes before the list: `--fragments` takes every word after it.
            let mut args = vec![
                "get-media-for-fragment-list".to_owned(),
                out_list.to_string_lossy().into_owned(),
                "--stream-name".to_owned(),
                stream.clone(),
                "--fragments".to_owned(),
            ];
            args.extend(b.iter().cloned());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let meta = cli.ok("kinesis-video-archived-media", &args);
            assert_eq!(meta["ContentType"], "video/webm", "{meta}");
            (cli, listed, out_list)
        }
    })
    .await
    .expect("CLI thread");

    let mut numbers: Vec<String> = listed.iter().map(number).collect();
    numbers.sort();
    assert_eq!(numbers, acked, "{name}: listed = acknowledged fragments");
    let mut by_number = listed.clone();
    by_number.sort_by_key(number);
    for (f, tc) in by_number.iter().zip(&cap.buffering_timecodes) {
        // ABSOLUTE producer: the producer timestamp is the cluster timecode.
        let p = f["ProducerTimestamp"].as_f64().expect("ProducerTimestamp");
        assert_eq!((p * 1000.0).round() as u64, *tc, "{f}");
        assert!(f["ServerTimestamp"].is_number(), "{f}");
        assert!(f["FragmentSizeInBytes"].as_i64().is_some_and(|s| s > 0));
    }

    // A PRODUCER_TIMESTAMP range around fragments 1 and 2, inclusive on both ends. The CLI
    // (botocore's legacy timestamp precision) sends whole seconds, so the bounds are the
    // seconds around those fragments and the expected set follows from the recording.
    let (start_s, end_s) = (
        cap.buffering_timecodes[1] / 1000,
        cap.buffering_timecodes[2].div_ceil(1000),
    );
    let sel = format!(
        "FragmentSelectorType=PRODUCER_TIMESTAMP,TimestampRange={{StartTimestamp={start_s},EndTimestamp={end_s}}}"
    );
    let in_range: Vec<String> = acked
        .iter()
        .zip(&cap.buffering_timecodes)
        .filter(|(_, tc)| (start_s * 1000..=end_s * 1000).contains(*tc))
        .map(|(n, _)| n.clone())
        .collect();
    assert!(in_range.contains(&acked[1]) && in_range.contains(&acked[2]));
    // The trailer that pushes the recording's last bytes through the CLI (see
    // cli_get_media_earliest): one fragment well after the recording.
    let last = cap.buffering_timecodes.last().copied().unwrap_or_default();
    let mut trailer = Synth::new(1);
    trailer.fragment(last + 60_000, 10, 8 * 1024);
    let trailer = Capture {
        name: "trailer".into(),
        body: trailer.bytes(),
        chunks: Vec::new(),
        timecode_type: kvs_core::putmedia::TimecodeType::Absolute,
        producer_start_ms: last + 60_000,
        buffering_timecodes: Vec::new(),
    };
    put_capture(&base, &stream, &trailer, 1).await;
    let out_get = dir.path().join("get.mkv");

    let ranged = tokio::task::spawn_blocking({
        let stream = stream.clone();
        let out_get = out_get.clone();
        move || {
            cli_get_media_earliest(&cli, &stream, &out_get, n);
            let v = cli.ok(
                "kinesis-video-archived-media",
                &[
                    "list-fragments",
                    "--stream-name",
                    &stream,
                    "--fragment-selector",
                    &sel,
                ],
            );
            let unknown = cli.err(
                "kinesis-video-archived-media",
                &[
                    "list-fragments",
                    "--stream-name",
                    "no-such-stream",
                    "--fragment-selector",
                    "FragmentSelectorType=SERVER_TIMESTAMP,TimestampRange={StartTimestamp=0,EndTimestamp=1}",
                ],
            );
            assert!(
                unknown.contains("ResourceNotFoundException"),
                "{unknown}"
            );
            v
        }
    })
    .await
    .expect("CLI thread");
    let mut got: Vec<String> = fragments_of(&ranged).iter().map(number).collect();
    got.sort();
    assert_eq!(got, in_range, "{name}: producer range {ranged}");

    for (what, file) in [
        ("get-media-for-fragment-list", &out_list),
        ("get-media", &out_get),
    ] {
        let data = std::fs::read(file).expect("output");
        let parsed = parse_documents(&data);
        assert_eq!(
            parsed.documents, n,
            "{name} {what}: one document per fragment"
        );
        assert_eq!(
            ffprobe_frames(file),
            want_frames,
            "{name} {what}: decodes to the original frame counts"
        );
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_h264() {
    cli_round_trip("h264").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_h265() {
    cli_round_trip("h265").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_h264_aac() {
    cli_round_trip("h264-aac").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_h264_alaw() {
    cli_round_trip("h264-alaw").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_aac_only() {
    cli_round_trip("aac-only").await;
}
