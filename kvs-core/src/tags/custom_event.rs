// SPDX-License-Identifier: MPL-2.0
//! The payload of the custom downstream GStreamer events that add or remove
//! metadata, as structure name + typed fields, so the plugins map it 1:1 to a
//! `gst::Structure` without this crate knowing GStreamer.
//!
//! `kvs-add-metadata` (`name`, `value`, `persist`) is the event AWS's kvssink
//! understands; the other two are ours.

use thiserror::Error;

use super::{EventKind, EventMetadata, FragmentTag, TagError};

/// AWS-compatible: add a fragment tag.
pub const ADD_METADATA: &str = "kvs-add-metadata";
/// Remove a persistent tag by name.
pub const REMOVE_METADATA: &str = "kvs-remove-metadata";
/// Add an image-generation or notification event.
pub const ADD_EVENT: &str = "kvs-add-event";

pub const FIELD_NAME: &str = "name";
pub const FIELD_VALUE: &str = "value";
pub const FIELD_PERSIST: &str = "persist";
pub const FIELD_KIND: &str = "kind";
pub const FIELD_IMAGE_PREFIX: &str = "image-prefix";
pub const FIELD_NAMES: &str = "names";
pub const FIELD_VALUES: &str = "values";

pub const KIND_IMAGE_GENERATION: &str = "image-generation";
pub const KIND_NOTIFICATION: &str = "notification";

/// A structure field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Str(String),
    Bool(bool),
    /// A `GstValueArray`/`GstValueList` of strings.
    StrList(Vec<String>),
    /// A value of any other type, kept by type name so errors can say what was found.
    Other(String),
}

impl FieldValue {
    fn type_name(&self) -> &str {
        match self {
            FieldValue::Str(_) => "string",
            FieldValue::Bool(_) => "boolean",
            FieldValue::StrList(_) => "string list",
            FieldValue::Other(t) => t,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CustomEventError {
    #[error("{structure}: field '{field}' is missing")]
    MissingField {
        structure: &'static str,
        field: &'static str,
    },
    #[error("{structure}: field '{field}' must be a {expected}, found a {found}")]
    WrongType {
        structure: &'static str,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("{structure}: field 'kind' is '{kind}', expected 'image-generation' or 'notification'")]
    UnknownKind {
        structure: &'static str,
        kind: String,
    },
    #[error("{structure}: 'names' has {names} entries but 'values' has {values}")]
    PairCountMismatch {
        structure: &'static str,
        names: usize,
        values: usize,
    },
    #[error("{structure}: {source}")]
    Invalid {
        structure: &'static str,
        #[source]
        source: TagError,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataEvent {
    AddTag(FragmentTag),
    RemoveTag(String),
    AddEvent(EventMetadata),
}

struct Fields<'f, F> {
    structure: &'static str,
    lookup: &'f F,
}

impl<F: Fn(&str) -> Option<FieldValue>> Fields<'_, F> {
    fn wrong(
        &self,
        field: &'static str,
        expected: &'static str,
        found: &FieldValue,
    ) -> CustomEventError {
        CustomEventError::WrongType {
            structure: self.structure,
            field,
            expected,
            found: found.type_name().to_owned(),
        }
    }

    fn missing(&self, field: &'static str) -> CustomEventError {
        CustomEventError::MissingField {
            structure: self.structure,
            field,
        }
    }

    fn opt_str(&self, field: &'static str) -> Result<Option<String>, CustomEventError> {
        match (self.lookup)(field) {
            None => Ok(None),
            Some(FieldValue::Str(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(field, "string", &other)),
        }
    }

    fn str(&self, field: &'static str) -> Result<String, CustomEventError> {
        self.opt_str(field)?.ok_or_else(|| self.missing(field))
    }

    fn bool(&self, field: &'static str) -> Result<bool, CustomEventError> {
        match (self.lookup)(field) {
            None => Err(self.missing(field)),
            Some(FieldValue::Bool(b)) => Ok(b),
            Some(other) => Err(self.wrong(field, "boolean", &other)),
        }
    }

    fn opt_list(&self, field: &'static str) -> Result<Option<Vec<String>>, CustomEventError> {
        match (self.lookup)(field) {
            None => Ok(None),
            Some(FieldValue::StrList(l)) => Ok(Some(l)),
            Some(other) => Err(self.wrong(field, "string list", &other)),
        }
    }

    fn invalid(&self, source: TagError) -> CustomEventError {
        CustomEventError::Invalid {
            structure: self.structure,
            source,
        }
    }
}

impl MetadataEvent {
    /// The structure name and fields that carry this event.
    pub fn to_fields(&self) -> (&'static str, Vec<(&'static str, FieldValue)>) {
        match self {
            MetadataEvent::AddTag(tag) => (
                ADD_METADATA,
                vec![
                    (FIELD_NAME, FieldValue::Str(tag.name().to_owned())),
                    (FIELD_VALUE, FieldValue::Str(tag.value().to_owned())),
                    (FIELD_PERSIST, FieldValue::Bool(tag.is_persistent())),
                ],
            ),
            MetadataEvent::RemoveTag(name) => (
                REMOVE_METADATA,
                vec![(FIELD_NAME, FieldValue::Str(name.clone()))],
            ),
            MetadataEvent::AddEvent(event) => {
                let mut fields = Vec::with_capacity(4);
                match event.kind() {
                    EventKind::Notification => {
                        fields.push((FIELD_KIND, FieldValue::Str(KIND_NOTIFICATION.to_owned())));
                    }
                    EventKind::ImageGeneration { image_prefix } => {
                        fields.push((
                            FIELD_KIND,
                            FieldValue::Str(KIND_IMAGE_GENERATION.to_owned()),
                        ));
                        if let Some(prefix) = image_prefix {
                            fields.push((FIELD_IMAGE_PREFIX, FieldValue::Str(prefix.clone())));
                        }
                    }
                }
                let (names, values) = event.pairs().iter().cloned().unzip();
                fields.push((FIELD_NAMES, FieldValue::StrList(names)));
                fields.push((FIELD_VALUES, FieldValue::StrList(values)));
                (ADD_EVENT, fields)
            }
        }
    }

    /// Decodes a structure. `Ok(None)` when the name is not one of ours (the event is
    /// someone else's and should be passed on). `lookup` returns a field's value.
    pub fn from_fields<F>(structure_name: &str, lookup: F) -> Result<Option<Self>, CustomEventError>
    where
        F: Fn(&str) -> Option<FieldValue>,
    {
        let structure = match structure_name {
            ADD_METADATA => ADD_METADATA,
            REMOVE_METADATA => REMOVE_METADATA,
            ADD_EVENT => ADD_EVENT,
            _ => return Ok(None),
        };
        let f = Fields {
            structure,
            lookup: &lookup,
        };
        let event = match structure {
            ADD_METADATA => {
                let name = f.str(FIELD_NAME)?;
                let value = f.str(FIELD_VALUE)?;
                let persist = f.bool(FIELD_PERSIST)?;
                MetadataEvent::AddTag(
                    FragmentTag::new(name, value, persist).map_err(|e| f.invalid(e))?,
                )
            }
            REMOVE_METADATA => MetadataEvent::RemoveTag(f.str(FIELD_NAME)?),
            _ => {
                let kind = match f.str(FIELD_KIND)?.as_str() {
                    KIND_NOTIFICATION => EventKind::Notification,
                    KIND_IMAGE_GENERATION => EventKind::ImageGeneration {
                        image_prefix: f.opt_str(FIELD_IMAGE_PREFIX)?,
                    },
                    other => {
                        return Err(CustomEventError::UnknownKind {
                            structure,
                            kind: other.to_owned(),
                        });
                    }
                };
                let names = f.opt_list(FIELD_NAMES)?;
                let values = f.opt_list(FIELD_VALUES)?;
                let (names, values) = match (names, values) {
                    (None, None) => (Vec::new(), Vec::new()),
                    (Some(_), None) => return Err(f.missing(FIELD_VALUES)),
                    (None, Some(_)) => return Err(f.missing(FIELD_NAMES)),
                    (Some(n), Some(v)) => (n, v),
                };
                if names.len() != values.len() {
                    return Err(CustomEventError::PairCountMismatch {
                        structure,
                        names: names.len(),
                        values: values.len(),
                    });
                }
                let pairs = names.into_iter().zip(values).collect();
                MetadataEvent::AddEvent(EventMetadata::new(kind, pairs).map_err(|e| f.invalid(e))?)
            }
        };
        Ok(Some(event))
    }
}
