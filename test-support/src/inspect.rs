// SPDX-License-Identifier: MPL-2.0
//! `gst-inspect-1.0` loads a built plugin from GST_PLUGIN_PATH, and its description of an
//! element must match the committed copy in the plugin crate's docs/gst-inspect/ (so any
//! change to pads, properties, defaults or flags shows up in review). Regenerate with
//! `KVS_UPDATE_SNAPSHOTS=1 cargo test -p <plugin crate> --test inspect`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The plugin crate under test.
pub struct Plugin {
    /// Cargo package, e.g. `gst-plugin-kvssink`.
    pub package: &'static str,
    /// Library file cargo builds, e.g. `libgstrskvssink.so`.
    pub library: &'static str,
    /// The package's `CARGO_MANIFEST_DIR`: snapshots live in its docs/gst-inspect/.
    pub manifest_dir: &'static str,
}

/// target/<profile>/ — where cargo put the plugin library — from this test's own path
/// (target/<profile>/deps/inspect-<hash>).
fn plugin_dir(plugin: &Plugin) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_path_buf();
    assert!(
        dir.join(plugin.library).is_file(),
        "{} has no {}: build the plugin with `cargo build -p {}`",
        dir.display(),
        plugin.library,
        plugin.package
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

/// Runs `gst-inspect-1.0 element` against the built plugin and compares it with the
/// committed snapshot (or rewrites the snapshot when `KVS_UPDATE_SNAPSHOTS` is set).
pub fn check(plugin: &Plugin, element: &str) {
    let registry = tempfile::tempdir().expect("temp dir");
    let out = Command::new("gst-inspect-1.0")
        .arg(element)
        .env("GST_PLUGIN_PATH", plugin_dir(plugin))
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
    let snapshot = Path::new(plugin.manifest_dir)
        .join("docs/gst-inspect")
        .join(format!("{element}.txt"));
    if std::env::var_os("KVS_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with KVS_UPDATE_SNAPSHOTS=1 cargo test -p {} --test inspect",
            snapshot.display(),
            plugin.package
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
