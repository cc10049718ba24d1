// SPDX-License-Identifier: MPL-2.0
//! A fragment's producer Tags as stored in `tags_json`: one JSON array per MKV Tag,
//! holding its SimpleTags as `[name, value]` pairs in order. The grouping matters: a KVS
//! event is one Tag (AWS_KINESISVIDEO_NOTIFICATION or IMAGE_GENERATION, then its pairs)
//! and must come back as one Tag from GetMedia.

use kvs_core::mkv::{SimpleTag, Tag};

type Group = Vec<(String, String)>;

/// The JSON stored for `tags`.
pub fn to_json(tags: &[Tag]) -> String {
    let groups: Vec<Group> = tags
        .iter()
        .map(|t| {
            t.simple_tags
                .iter()
                .map(|st| (st.name.clone(), st.value.clone()))
                .collect()
        })
        .collect();
    serde_json::to_string(&groups).unwrap_or_else(|_| "[]".into())
}

/// Tags read back from `json`. Rows written before Tags were grouped hold a flat
/// `[[name, value], …]` list: each pair becomes its own Tag, as it was served then.
/// Tags are written by us; an unreadable value only loses the metadata, not the fragment.
pub fn from_json(json: &str) -> Vec<Tag> {
    let groups: Vec<Group> = match serde_json::from_str::<Vec<Group>>(json) {
        Ok(groups) => groups,
        Err(_) => serde_json::from_str::<Group>(json)
            .map(|flat| flat.into_iter().map(|pair| vec![pair]).collect())
            .unwrap_or_default(),
    };
    groups
        .into_iter()
        .map(|g| Tag {
            simple_tags: g
                .into_iter()
                .map(|(name, value)| SimpleTag::new(name, value))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Tag {
        Tag {
            simple_tags: vec![
                SimpleTag::new("AWS_KINESISVIDEO_NOTIFICATION", ""),
                SimpleTag::new("a", "1"),
                SimpleTag::new("b", "2"),
            ],
        }
    }

    #[test]
    fn groups_round_trip_in_order() {
        let tags = vec![Tag::single("k", "v"), event()];
        let json = to_json(&tags);
        assert_eq!(
            json,
            r#"[[["k","v"]],[["AWS_KINESISVIDEO_NOTIFICATION",""],["a","1"],["b","2"]]]"#
        );
        assert_eq!(from_json(&json), tags);
    }

    #[test]
    fn old_flat_rows_read_as_one_tag_per_pair() {
        assert_eq!(
            from_json(r#"[["k","v"],["a","1"]]"#),
            vec![Tag::single("k", "v"), Tag::single("a", "1")]
        );
        assert_eq!(from_json("[]"), Vec::<Tag>::new());
        assert_eq!(from_json("not json"), Vec::<Tag>::new());
    }
}
