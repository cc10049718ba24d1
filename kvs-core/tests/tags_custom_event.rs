// SPDX-License-Identifier: MPL-2.0
//! The custom event payload: build → parse round trips and typed errors.

use std::collections::HashMap;

use kvs_core::tags::custom_event::{ADD_EVENT, ADD_METADATA, REMOVE_METADATA};
use kvs_core::tags::{
    CustomEventError, EventMetadata, FieldValue, FragmentTag, MetadataEvent, TagError,
};

fn parse(
    name: &str,
    fields: Vec<(&str, FieldValue)>,
) -> Result<Option<MetadataEvent>, CustomEventError> {
    let map: HashMap<String, FieldValue> =
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    MetadataEvent::from_fields(name, |f| map.get(f).cloned())
}

fn round_trip(event: MetadataEvent) {
    let (name, fields) = event.to_fields();
    assert_eq!(parse(name, fields), Ok(Some(event)));
}

fn s(v: &str) -> FieldValue {
    FieldValue::Str(v.to_owned())
}

#[test]
fn every_event_round_trips() {
    round_trip(MetadataEvent::AddTag(
        FragmentTag::persistent("camera", "front").unwrap(),
    ));
    round_trip(MetadataEvent::AddTag(
        FragmentTag::one_shot("motion", "").unwrap(),
    ));
    round_trip(MetadataEvent::RemoveTag("camera".into()));
    round_trip(MetadataEvent::AddEvent(
        EventMetadata::notification(vec![]).unwrap(),
    ));
    round_trip(MetadataEvent::AddEvent(
        EventMetadata::image_generation(
            Some("prefix/".into()),
            vec![("a".into(), "1".into()), ("b".into(), "".into())],
        )
        .unwrap(),
    ));
    round_trip(MetadataEvent::AddEvent(
        EventMetadata::image_generation(None, vec![]).unwrap(),
    ));
}

#[test]
fn aws_kvssink_structure_is_understood() {
    // What applications written for AWS's kvssink send.
    let (name, fields) =
        MetadataEvent::AddTag(FragmentTag::one_shot("x", "y").unwrap()).to_fields();
    assert_eq!(name, "kvs-add-metadata");
    assert_eq!(
        fields,
        vec![
            ("name", s("x")),
            ("value", s("y")),
            ("persist", FieldValue::Bool(false))
        ]
    );
    let event = parse(
        ADD_METADATA,
        vec![
            ("name", s("site")),
            ("value", s("lab")),
            ("persist", FieldValue::Bool(true)),
        ],
    );
    assert_eq!(
        event,
        Ok(Some(MetadataEvent::AddTag(
            FragmentTag::persistent("site", "lab").unwrap()
        )))
    );
}

#[test]
fn foreign_structures_are_not_ours() {
    assert_eq!(parse("GstForceKeyUnit", vec![]), Ok(None));
}

#[test]
fn missing_fields_are_named() {
    assert_eq!(
        parse(ADD_METADATA, vec![("name", s("a")), ("value", s("b"))]),
        Err(CustomEventError::MissingField {
            structure: ADD_METADATA,
            field: "persist"
        })
    );
    assert_eq!(
        parse(REMOVE_METADATA, vec![]),
        Err(CustomEventError::MissingField {
            structure: REMOVE_METADATA,
            field: "name"
        })
    );
    assert_eq!(
        parse(
            ADD_EVENT,
            vec![
                ("kind", s("notification")),
                ("names", FieldValue::StrList(vec!["a".into()]))
            ]
        ),
        Err(CustomEventError::MissingField {
            structure: ADD_EVENT,
            field: "values"
        })
    );
    assert_eq!(
        parse(ADD_EVENT, vec![]),
        Err(CustomEventError::MissingField {
            structure: ADD_EVENT,
            field: "kind"
        })
    );
}

#[test]
fn wrong_types_are_named() {
    let err = parse(
        ADD_METADATA,
        vec![("name", s("a")), ("value", s("b")), ("persist", s("true"))],
    )
    .unwrap_err();
    assert_eq!(
        err,
        CustomEventError::WrongType {
            structure: ADD_METADATA,
            field: "persist",
            expected: "boolean",
            found: "string".into()
        }
    );
    assert!(err.to_string().contains("'persist'"));
    assert_eq!(
        parse(
            ADD_METADATA,
            vec![
                ("name", FieldValue::Other("gint".into())),
                ("value", s("")),
                ("persist", FieldValue::Bool(true))
            ]
        ),
        Err(CustomEventError::WrongType {
            structure: ADD_METADATA,
            field: "name",
            expected: "string",
            found: "gint".into()
        })
    );
    assert!(matches!(
        parse(
            ADD_EVENT,
            vec![
                ("kind", s("notification")),
                ("names", s("a")),
                ("values", s("b"))
            ]
        ),
        Err(CustomEventError::WrongType { field: "names", .. })
    ));
}

#[test]
fn invalid_content_is_rejected_with_the_reason() {
    assert_eq!(
        parse(ADD_EVENT, vec![("kind", s("motion"))]),
        Err(CustomEventError::UnknownKind {
            structure: ADD_EVENT,
            kind: "motion".into()
        })
    );
    assert_eq!(
        parse(
            ADD_EVENT,
            vec![
                ("kind", s("notification")),
                ("names", FieldValue::StrList(vec!["a".into(), "b".into()])),
                ("values", FieldValue::StrList(vec!["1".into()])),
            ]
        ),
        Err(CustomEventError::PairCountMismatch {
            structure: ADD_EVENT,
            names: 2,
            values: 1
        })
    );
    assert!(matches!(
        parse(
            ADD_METADATA,
            vec![
                ("name", s("AWS_X")),
                ("value", s("")),
                ("persist", FieldValue::Bool(false))
            ]
        ),
        Err(CustomEventError::Invalid {
            structure: ADD_METADATA,
            source: TagError::ReservedName { .. }
        })
    ));
}
