// SPDX-License-Identifier: MPL-2.0
//! `gst-inspect-1.0` loads the built plugin from GST_PLUGIN_PATH, and its description of
//! each element matches the committed copy in docs/gst-inspect/ (so any change to pads,
//! properties, defaults or flags shows up in review). Regenerate with
//! `KVS_UPDATE_SNAPSHOTS=1 cargo test -p gst-plugin-kvssink --test inspect`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// target/<profile>/ — where cargo put libgstrskvssink.so — from this test's own path
/// (target/<profile>/deps/inspect-<hash>).
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_path_buf();
    assert!(
        dir.join("libgstrskvssink.so").is_file(),
        "{} has no libgstrskvssink.so: build the plugin with `cargo build -p gst-plugin-kvssink`",
        dir.display()
    );
    dir
}

/// Drops what changes from build to build: file paths, version strings, dates.
fn normalise(text: &str) -> String {
    let version = env!("CARGO_PKG_VERSION");
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("Filename")
                || t.starts_with("Version")
                || t.starts_with("Source release date"))
        })
        .map(|l| l.replace(version, "VERSION").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn check(element: &str) {
    let registry = tempfile::tempdir().expect("temp dir");
    let out = Command::new("gst-inspect-1.0")
        .arg(element)
        .env("GST_PLUGIN_PATH", plugin_dir())
        // A private registry: no stale cache, no blacklisting from earlier builds.
        .env("GST_REGISTRY", registry.path().join("registry.bin"))
        .env_remove("GST_PLUGIN_PATH_1_0")
        .output()
        .expect("gst-inspect-1.0 runs (install gstreamer1.0-tools)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gst-inspect-1.0 {element} failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let actual = normalise(&stdout);
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/gst-inspect")
        .join(format!("{element}.txt"));
    if std::env::var_os("KVS_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with KVS_UPDATE_SNAPSHOTS=1 cargo test -p gst-plugin-kvssink --test inspect",
            snapshot.display()
        )
    });
    if actual != expected {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (e, a))| e != a)
            .take(10)
            .map(|(i, (e, a))| format!("line {}:\n  committed: {e}\n  now:       {a}", i + 1))
            .collect();
        panic!(
            "gst-inspect-1.0 {element} differs from {} ({} vs {} lines):\n{}\n\
             If the change is intended, regenerate with KVS_UPDATE_SNAPSHOTS=1.",
            snapshot.display(),
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn kvssink_matches_committed_description() {
    check("kvssink");
}

#[test]
fn kvsmkvmux_matches_committed_description() {
    check("kvsmkvmux");
}
