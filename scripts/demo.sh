#!/usr/bin/env bash
# `make demo`: the whole round trip on one machine, nothing to configure.
#
#   1. builds kvs-local and the three plugins (debug profile: usually already warm),
#   2. starts kvs-local on a free port with a temporary data directory,
#   3. streams ~10 s of test video (a bouncing ball) + audio through kvsmeta (tags and
#      motion detection) into kvssink,
#   4. lists the stored fragments with the AWS CLI (ListFragments against kvs-local),
#   5. plays the stream back with kvssrc into a Matroska file, printing every fragment's tags,
#   6. prints a summary, and stops everything it started (also on failure or Ctrl-C).
#
# Environment knobs: DEMO_SECONDS (default 10), DEMO_OUT (default target/demo), CARGO.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CARGO=${CARGO:-cargo}
SECONDS_TO_STREAM=${DEMO_SECONDS:-10}
OUT_DIR=${DEMO_OUT:-$ROOT/target/demo}
PROFILE=debug
STREAM=gst-kvs-demo
export PATH="$ROOT/.venv/bin:$PATH"

STEP="starting"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gst-kvs-demo.XXXXXX")
SERVER_PID=""
JOB_PID=""

cleanup() {
  local rc=$?
  [ -n "$JOB_PID" ] && kill "$JOB_PID" 2>/dev/null && wait "$JOB_PID" 2>/dev/null
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ $rc -ne 0 ]; then
    echo >&2
    echo "demo FAILED at step: $STEP" >&2
    for log in "$WORK"/*.log; do
      [ -s "$log" ] || continue
      echo "---- last lines of $(basename "$log") ----" >&2
      tail -n 15 "$log" >&2
    done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() {
  STEP=$1
  echo "==> $1"
}

die() {
  echo "error: $*" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"
}

# Waits for a background job, printing elapsed time so a long step never looks hung.
wait_job() {
  local what=$1 limit=$2 start=$SECONDS
  while kill -0 "$JOB_PID" 2>/dev/null; do
    local elapsed=$((SECONDS - start))
    if [ $elapsed -ge "$limit" ]; then
      die "$what did not finish within ${limit}s"
    fi
    printf '    ... %s (%ds)\r' "$what" "$elapsed"
    sleep 1
  done
  printf '\n'
  local rc=0
  wait "$JOB_PID" || rc=$?
  JOB_PID=""
  return $rc
}

need gst-launch-1.0 "run 'make deps' (or scripts/install-deps.sh) first"
need ffprobe "install ffmpeg (scripts/install-deps.sh does)"
need aws "run scripts/install-deps.sh: it installs the AWS CLI into .venv"

AAC=""
for enc in avenc_aac voaacenc fdkaacenc; do
  if gst-inspect-1.0 "$enc" >/dev/null 2>&1; then AAC=$enc; break; fi
done
[ -n "$AAC" ] || die "no AAC encoder (avenc_aac from gstreamer1.0-libav, or voaacenc)"

step "building kvs-local and the plugins ($PROFILE)"
# Only the plugin libraries and the server binary: nothing else the demo does not run.
"$CARGO" build --locked -p kvs-local -p gst-plugin-kvssink -p gst-plugin-kvssrc \
  -p gst-plugin-kvsmeta --lib --bin kvs-local || die "cargo build failed (see above)"

# Only our three libraries on GST_PLUGIN_PATH, and a private registry, so an installed copy
# (or a stale registry cache) cannot shadow what was just built.
PLUGINS=$WORK/plugins
mkdir -p "$PLUGINS"
for p in kvssink kvssrc kvsmeta; do
  lib=$ROOT/target/$PROFILE/libgstrs$p.so
  [ -f "$lib" ] || die "$lib was not built"
  ln -s "$lib" "$PLUGINS/"
done
export GST_PLUGIN_PATH=$PLUGINS
export GST_REGISTRY=$WORK/registry.bin
# Dummy static keys: kvs-local accepts any well-formed SigV4 signature by default.
export AWS_ACCESS_KEY_ID=AKIDDEMO0000000000
export AWS_SECRET_ACCESS_KEY=demo-secret-not-used
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN
for e in kvssink kvssrc kvsmeta; do
  gst-inspect-1.0 "$e" >/dev/null 2>&1 || die "GStreamer cannot load $e from $PLUGINS (try: GST_DEBUG=2 gst-inspect-1.0 $e)"
done

step "starting kvs-local (temporary data dir)"
"$ROOT/target/$PROFILE/kvs-local" --listen 127.0.0.1:0 --data-dir "$WORK/data" \
  >"$WORK/kvs-local.out" 2>"$WORK/kvs-local.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
  line=$(head -n 1 "$WORK/kvs-local.out" 2>/dev/null || true)
  case $line in
    "kvs-local listening on "*) URL=${line#kvs-local listening on }; break ;;
  esac
  kill -0 "$SERVER_PID" 2>/dev/null || die "kvs-local exited early"
  sleep 0.1
done
[ -n "$URL" ] || die "kvs-local did not print its address within 30 s"
echo "    kvs-local at $URL"

START_S=$(($(date +%s) - 5))
BUFFERS=$((SECONDS_TO_STREAM * 30))
AUDIO_BUFFERS=$((SECONDS_TO_STREAM * 44100 / 1024 + 1))
# Not live: kvssink's fragmenter then waits for both tracks. Live test sources at start-up
# sometimes let the first fragment go out video-only (the AAC encoder's first buffer comes
# late), and matroskademux cannot play the header change that follows.
step "streaming ${SECONDS_TO_STREAM} s of test video+audio with tags and motion through kvssink"
gst-launch-1.0 -e -m \
  videotestsrc pattern=ball num-buffers=$BUFFERS \
  ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 \
  ! kvsmeta tags="t,source=make-demo,camera=ball" motion=true \
  ! x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! h264parse ! sink.video_0 \
  audiotestsrc wave=ticks num-buffers=$AUDIO_BUFFERS \
  ! audio/x-raw,rate=44100,channels=1 ! audioconvert ! $AAC ! aacparse ! sink.audio_0 \
  kvssink name=sink stream-name=$STREAM aws-region=us-east-1 endpoint-uri="$URL" \
  >"$WORK/producer.log" 2>&1 &
JOB_PID=$!
wait_job "streaming" $((SECONDS_TO_STREAM + 90)) || die "the producer pipeline failed"
PERSISTED=$(grep -c 'kvs-fragment-ack.*PERSISTED' "$WORK/producer.log" || true)
MOTION=$(grep -c 'kvs-motion' "$WORK/producer.log" || true)
echo "    $PERSISTED fragments acknowledged as PERSISTED, $MOTION motion events"
[ "$PERSISTED" -gt 0 ] || die "kvs-local acknowledged no fragment"

step "listing the stored fragments (aws kinesis-video-archived-media list-fragments)"
# Fragment times run ahead of the wall clock when the sources are faster than real time.
END_S=$(($(date +%s) + SECONDS_TO_STREAM + 60))
aws kinesis-video-archived-media list-fragments --endpoint-url "$URL" --stream-name $STREAM \
  --fragment-selector "FragmentSelectorType=PRODUCER_TIMESTAMP,TimestampRange={StartTimestamp=$START_S,EndTimestamp=$END_S}" \
  --query 'sort_by(Fragments,&FragmentNumber)[].[FragmentNumber,ProducerTimestamp,FragmentLengthInMilliseconds,FragmentSizeInBytes]' \
  --output text >"$WORK/fragments.txt" 2>"$WORK/aws.log" \
  || die "ListFragments failed"
FRAGMENTS=$(wc -l <"$WORK/fragments.txt")
printf '    %-48s %-24s %6s %7s\n' fragment-number producer-time ms bytes
while read -r num ts ms bytes; do
  when=$(date -u -d "@$ts" +%H:%M:%S.%3NZ 2>/dev/null || echo "$ts")
  printf '    %-48s %-24s %6s %7s\n' "$num" "$when" "$ms" "$bytes"
done <"$WORK/fragments.txt"

mkdir -p "$OUT_DIR"
OUT=$OUT_DIR/$STREAM.mkv
rm -f "$OUT"
END_MS=$((END_S * 1000))
step "playing the archive back with kvssrc into $OUT"
gst-launch-1.0 -m \
  kvssrc stream-name=$STREAM aws-region=us-east-1 endpoint-uri="$URL" \
    start-selector=producer-timestamp start-timestamp=$((START_S * 1000)) end-timestamp=$END_MS \
  ! matroskademux name=d \
  d.video_0 ! queue ! h264parse ! mux.video_0 \
  d.audio_0 ! queue ! aacparse ! mux.audio_0 \
  matroskamux name=mux ! filesink location="$OUT" \
  >"$WORK/playback.log" 2>&1 &
JOB_PID=$!
wait_job "playback" 120 || die "the kvssrc pipeline failed"
[ -s "$OUT" ] || die "kvssrc wrote nothing"

step "checking the file with ffprobe"
FRAMES=$(ffprobe -v error -count_frames -select_streams v:0 \
  -show_entries stream=nb_read_frames -of csv=p=0 "$OUT" 2>"$WORK/ffprobe.log") \
  || die "ffprobe cannot read $OUT"
AUDIO=$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$OUT" 2>>"$WORK/ffprobe.log" || true)
DURATION=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$OUT" 2>>"$WORK/ffprobe.log" || true)

echo
echo "Fragment tags as kvssrc read them back (kvs-fragment messages):"
# gst-launch -m prints each message's structure on one line; keep the number and the tags.
grep 'kvs-fragment,' "$WORK/playback.log" \
  | sed -n 's/.*fragment-number=(string)\([0-9]*\).*tags=\(.*\)$/\1 \2/p' \
  | sed -e 's/(structure)//g' -e 's/\\//g' -e 's/"tag, name=(string)//g' \
        -e 's/, value=(string)/=/g' -e 's/;"//g' -e 's/[<>{}]//g' \
        -e 's/[[:space:]]*;[[:space:]]*$//' \
  | while read -r num rest; do printf '    %-48s %s\n' "$num" "$rest"; done
PLAYED=$(grep -c 'kvs-fragment,' "$WORK/playback.log" || true)

echo
echo "Summary"
echo "  stream          $STREAM on kvs-local ($URL, stopped now)"
echo "  fragments       $FRAGMENTS stored, $PERSISTED acknowledged PERSISTED, $PLAYED played back"
echo "  motion events   $MOTION (kvsmeta motion=true on the bouncing ball)"
echo "  video frames    ${FRAMES:-?} (H.264), audio: ${AUDIO:-none}, duration ${DURATION:-?} s"
echo "  file            $OUT"
echo "  open it with    ffplay '$OUT'   or   gst-play-1.0 '$OUT'   or   vlc '$OUT'"
STEP="done"
