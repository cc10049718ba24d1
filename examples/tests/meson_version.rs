// SPDX-License-Identifier: MPL-2.0
//! meson.build's project version must equal the Cargo workspace version (which this crate
//! inherits), so `meson install` never ships plugins that report another version.

use std::path::Path;

fn meson_project_version(meson_build: &str) -> Option<String> {
    let project = meson_build.split("project(").nth(1)?;
    let rest = project.split("version:").nth(1)?;
    let quoted = rest.trim_start().strip_prefix('\'')?;
    Some(quoted.split('\'').next()?.to_owned())
}

#[test]
fn meson_and_cargo_versions_agree() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../meson.build");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"));
    let meson = meson_project_version(&text)
        .unwrap_or_else(|| panic!("no version: in project() of {path:?}"));
    assert_eq!(
        meson,
        env!("CARGO_PKG_VERSION"),
        "meson.build and Cargo.toml ([workspace.package] version) must agree"
    );
}

#[test]
fn the_version_parser_reads_what_it_should() {
    let sample = "project('x', 'c',\n  version: '1.2.3',\n  license: 'MPL-2.0')\n";
    assert_eq!(meson_project_version(sample).as_deref(), Some("1.2.3"));
    assert_eq!(meson_project_version("project('x')"), None);
}
