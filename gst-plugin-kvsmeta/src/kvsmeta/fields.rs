// SPDX-License-Identifier: MPL-2.0
//! Between kvs-core's typed metadata events and GStreamer structures: the custom
//! downstream events kvsmeta sends, and the user's `tags` / `pairs` structures.

use gst::prelude::*;
use kvs_core::tags::{CustomEventError, FieldValue, MetadataEvent};
use thiserror::Error;

/// The structure carrying `event`, as kvssink reads it.
pub fn to_structure(event: &MetadataEvent) -> gst::Structure {
    let (name, fields) = event.to_fields();
    let mut builder = gst::Structure::builder(name);
    for (field, value) in fields {
        builder = match value {
            FieldValue::Str(s) => builder.field(field, s),
            FieldValue::Bool(b) => builder.field(field, b),
            FieldValue::StrList(list) => builder.field(field, gst::Array::new(list)),
            // to_fields never produces it; nothing sensible to write.
            FieldValue::Other(_) => builder,
        };
    }
    builder.build()
}

/// The serialized custom downstream event carrying `event`: serialized so it stays
/// in order with the frames, through encoders too.
pub fn to_event(event: &MetadataEvent) -> gst::Event {
    gst::event::CustomDownstream::new(to_structure(event))
}

/// Decodes one of the kvs-core structures; `Ok(None)` for any other structure.
pub fn from_structure(s: &gst::StructureRef) -> Result<Option<MetadataEvent>, CustomEventError> {
    MetadataEvent::from_fields(s.name().as_str(), |field| {
        let value = s.value(field).ok()?;
        Some(if let Ok(v) = value.get::<String>() {
            FieldValue::Str(v)
        } else if let Ok(v) = value.get::<bool>() {
            FieldValue::Bool(v)
        } else if let Ok(list) = value.get::<gst::Array>() {
            list.iter()
                .map(|v| v.get::<String>().ok())
                .collect::<Option<Vec<_>>>()
                .map_or_else(
                    || FieldValue::Other(value.type_().name().to_owned()),
                    FieldValue::StrList,
                )
        } else {
            FieldValue::Other(value.type_().name().to_owned())
        })
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PairError {
    #[error("field '{name}' is a {type_name}; use a string, number or boolean")]
    UnsupportedType { name: String, type_name: String },
}

/// The fields of a user structure (`t,camera=front,site=lab`) as name/value
/// strings, in order. Numbers and booleans are accepted in their text form, since
/// `gst-launch` parses `count=5` as an integer; the structure's own name is ignored.
/// One entry per field, so a bad field does not lose the good ones.
pub fn pairs(s: &gst::StructureRef) -> Vec<Result<(String, String), PairError>> {
    s.iter()
        .map(|(name, value)| {
            let name = name.as_str().to_owned();
            value_text(value)
                .map(|v| (name.clone(), v))
                .ok_or_else(|| PairError::UnsupportedType {
                    name,
                    type_name: value.type_().name().to_owned(),
                })
        })
        .collect()
}

fn value_text(value: &glib::SendValue) -> Option<String> {
    if let Ok(s) = value.get::<String>() {
        return Some(s);
    }
    let t = value.type_();
    let scalar = [
        glib::Type::BOOL,
        glib::Type::I32,
        glib::Type::U32,
        glib::Type::I64,
        glib::Type::U64,
        glib::Type::F32,
        glib::Type::F64,
    ];
    if scalar.contains(&t) {
        return value.serialize().ok().map(|s| s.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvs_core::tags::{EventMetadata, FragmentTag};

    fn init() {
        gst::init().unwrap();
    }

    #[test]
    fn events_round_trip_through_structures() {
        init();
        let events = [
            MetadataEvent::AddTag(FragmentTag::persistent("camera", "front").unwrap()),
            MetadataEvent::AddTag(FragmentTag::one_shot("motion", "").unwrap()),
            MetadataEvent::RemoveTag("camera".into()),
            MetadataEvent::AddEvent(
                EventMetadata::image_generation(
                    Some("images/".into()),
                    vec![("reason".into(), "motion".into())],
                )
                .unwrap(),
            ),
            MetadataEvent::AddEvent(EventMetadata::notification(vec![]).unwrap()),
        ];
        for event in events {
            let s = to_structure(&event);
            assert_eq!(from_structure(&s), Ok(Some(event)), "{s}");
        }
    }

    #[test]
    fn aws_style_structure_decodes() {
        init();
        let s: gst::Structure =
            "kvs-add-metadata, name=(string)site, value=(string)lab, persist=(boolean)true"
                .parse()
                .unwrap();
        assert_eq!(
            from_structure(&s),
            Ok(Some(MetadataEvent::AddTag(
                FragmentTag::persistent("site", "lab").unwrap()
            )))
        );
        let other: gst::Structure = "something-else, a=1".parse().unwrap();
        assert_eq!(from_structure(&other), Ok(None));
    }

    #[test]
    fn pairs_take_text_numbers_and_booleans() {
        init();
        let s: gst::Structure =
            "t, camera=front, count=5, on=true, ratio=(double)0.5, r=(fraction)1/2"
                .parse()
                .unwrap();
        let got = pairs(&s);
        assert_eq!(
            got[..4],
            [
                Ok(("camera".to_owned(), "front".to_owned())),
                Ok(("count".to_owned(), "5".to_owned())),
                Ok(("on".to_owned(), "true".to_owned())),
                Ok(("ratio".to_owned(), "0.5".to_owned())),
            ]
        );
        assert!(matches!(
            &got[4],
            Err(PairError::UnsupportedType { name, .. }) if name == "r"
        ));
    }
}
