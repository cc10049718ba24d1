// SPDX-License-Identifier: MPL-2.0
//! Shared bits of the gst-kvs example applications (`kvs-gateway`, `kvs-thumbnails`).

type Register = fn() -> Result<(), glib::BoolError>;

/// Makes kvssink, kvsmkvmux, kvssrc and kvsmeta available. An installed copy (found through
/// GST_PLUGIN_PATH or the system plugin directory) wins; otherwise the copies linked into
/// this binary are registered, so `cargo run` works without any setup.
pub fn init_gstreamer() -> Result<(), glib::Error> {
    gst::init()?;
    let missing = |name: &str| gst::ElementFactory::find(name).is_none();
    let registrations: [(&str, Register); 3] = [
        ("kvssink", gstrskvssink::plugin_register_static),
        ("kvssrc", gstrskvssrc::plugin_register_static),
        ("kvsmeta", gstrskvsmeta::plugin_register_static),
    ];
    for (element, register) in registrations {
        if missing(element) {
            register().map_err(|e| glib::Error::new(gst::CoreError::MissingPlugin, &e.message))?;
        }
    }
    Ok(())
}

/// One line of a `kvs-fragment-ack` message, e.g. `PERSISTED 9134…` (None for other messages).
pub fn describe_ack(s: &gst::StructureRef) -> Option<String> {
    if s.name() != "kvs-fragment-ack" {
        return None;
    }
    let kind = s.get::<&str>("event-type").unwrap_or("?");
    let number = s.get::<&str>("fragment-number").unwrap_or("-");
    let mut line = format!("{kind} {number}");
    if let Ok(name) = s.get::<&str>("error-name") {
        line.push_str(&format!(" ({name})"));
    }
    Some(line)
}

/// The tags of a `kvs-fragment` message from kvssrc as `(name, value)` pairs.
pub fn fragment_tags(s: &gst::StructureRef) -> Vec<(String, String)> {
    let Ok(tags) = s.get::<gst::Array>("tags") else {
        return Vec::new();
    };
    tags.iter()
        .filter_map(|v| v.get::<gst::Structure>().ok())
        .filter_map(|t| {
            let name = t.get::<String>("name").ok()?;
            let value = t.get::<String>("value").ok()?;
            Some((name, value))
        })
        .collect()
}

/// Parses `NAME=VALUE` (command-line tags and cameras).
pub fn split_pair(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got {arg:?}")),
    }
}
