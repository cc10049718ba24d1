// SPDX-License-Identifier: MPL-2.0
//! The stream registry: every control-plane rule about streams (names, versions, status
//! life cycle, tags, configuration) on top of the SQLite tables. Shared by the control-plane
//! handlers and, through `stream_by_name_or_arn`, by the data plane.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kvs_core::api::{ApiError, ErrorKind, StreamArn, StreamStatus, validate};

use crate::db::{ConfigColumn, Db, DbError, NewStream, StreamRecord, StreamUpdate, sql};
use crate::ids;

/// Streams an account may hold (the service's default soft quota).
pub const MAX_STREAMS: i64 = 10_000;

fn db_error(err: DbError) -> ApiError {
    tracing::error!(error = %err, "control-plane database failure");
    ApiError::internal("internal database error")
}

fn not_found() -> ApiError {
    ApiError::not_found("The requested stream is not found or not active.")
}

/// How a request names a stream, and what a malformed ARN is reported as.
#[derive(Clone, Copy)]
pub struct StreamSelector<'a> {
    pub name: Option<&'a str>,
    pub arn: Option<&'a str>,
    /// `InvalidResourceFormatException` for the tagging operations, else InvalidArgument.
    pub bad_arn: ErrorKind,
}

impl<'a> StreamSelector<'a> {
    pub fn new(name: Option<&'a str>, arn: Option<&'a str>) -> Self {
        StreamSelector {
            name,
            arn,
            bad_arn: ErrorKind::InvalidArgument,
        }
    }
}

struct Inner {
    db: Db,
    activation_delay: Duration,
}

/// Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct StreamRegistry {
    inner: Arc<Inner>,
}

impl StreamRegistry {
    pub fn new(db: Db, activation_delay: Duration) -> Self {
        StreamRegistry {
            inner: Arc::new(Inner {
                db,
                activation_delay,
            }),
        }
    }

    /// Streams become ACTIVE lazily: the first read after the activation delay flips them,
    /// so no timer task has to exist and a restart cannot leave one stuck in CREATING.
    fn promote(&self, conn: &rusqlite::Connection) -> Result<(), ApiError> {
        let delay_ms = i64::try_from(self.inner.activation_delay.as_millis()).unwrap_or(i64::MAX);
        sql::promote_creating(conn, ids::now_ms().saturating_sub(delay_ms)).map_err(db_error)?;
        Ok(())
    }

    fn find(
        &self,
        conn: &rusqlite::Connection,
        sel: StreamSelector<'_>,
    ) -> Result<StreamRecord, ApiError> {
        self.promote(conn)?;
        let record = match (sel.name, sel.arn) {
            (_, Some(arn)) => {
                if StreamArn::parse(arn).is_none() {
                    return Err(ApiError::new(
                        sel.bad_arn,
                        format!("StreamARN '{arn}' is not a valid stream ARN"),
                    ));
                }
                let rec = sql::by_arn(conn, arn)
                    .map_err(db_error)?
                    .ok_or_else(not_found)?;
                if let Some(name) = sel.name
                    && name != rec.name
                {
                    return Err(ApiError::invalid_argument(
                        "StreamName and StreamARN refer to different streams",
                    ));
                }
                rec
            }
            (Some(name), None) => {
                validate::stream_name(name)?;
                sql::by_name(conn, name)
                    .map_err(db_error)?
                    .ok_or_else(not_found)?
            }
            (None, None) => {
                return Err(ApiError::invalid_argument(
                    "Either StreamName or StreamARN must be specified",
                ));
            }
        };
        Ok(record)
    }

    /// The stream a data-plane or control-plane call names, unless it is being deleted.
    pub fn stream_by_name_or_arn(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
    ) -> Result<StreamRecord, ApiError> {
        self.lookup(StreamSelector::new(name, arn))
    }

    /// Like `stream_by_name_or_arn` with a chosen malformed-ARN error.
    pub fn lookup(&self, sel: StreamSelector<'_>) -> Result<StreamRecord, ApiError> {
        let conn = self.inner.db.lock();
        let rec = self.find(&conn, sel)?;
        if rec.status == StreamStatus::Deleting {
            return Err(not_found());
        }
        Ok(rec)
    }

    /// What DescribeStream shows: streams being deleted included.
    pub fn describe(&self, sel: StreamSelector<'_>) -> Result<StreamRecord, ApiError> {
        let conn = self.inner.db.lock();
        self.find(&conn, sel)
    }

    pub fn create(
        &self,
        new: &NewStream<'_>,
        tags: &BTreeMap<String, String>,
    ) -> Result<StreamRecord, ApiError> {
        let mut conn = self.inner.db.lock();
        if sql::by_name(&conn, new.name).map_err(db_error)?.is_some() {
            return Err(ApiError::in_use(format!(
                "The stream {} already exists.",
                new.name
            )));
        }
        if sql::count(&conn).map_err(db_error)? >= MAX_STREAMS {
            return Err(ApiError::new(
                ErrorKind::AccountStreamLimitExceeded,
                format!("An account may hold at most {MAX_STREAMS} streams"),
            ));
        }
        let id = sql::insert(&mut conn, new, tags).map_err(db_error)?;
        self.promote(&conn)?;
        sql::by_id(&conn, id)
            .map_err(db_error)?
            .ok_or_else(not_found)
    }

    /// Streams in name order after `after`, names starting with `prefix`.
    pub fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StreamRecord>, ApiError> {
        let conn = self.inner.db.lock();
        self.promote(&conn)?;
        sql::list(&conn, prefix, after, limit).map_err(db_error)
    }

    /// Applies `change` to the stream if it is ACTIVE and `current_version` matches; gives the
    /// stream a new version. `change` sees the current record and returns the update to make.
    pub fn update_versioned(
        &self,
        sel: StreamSelector<'_>,
        current_version: Option<&str>,
        change: impl FnOnce(&StreamRecord) -> Result<StreamUpdate, ApiError>,
    ) -> Result<StreamRecord, ApiError> {
        let conn = self.inner.db.lock();
        let rec = self.find(&conn, sel)?;
        if rec.status == StreamStatus::Deleting {
            return Err(not_found());
        }
        if let Some(v) = current_version
            && v != rec.version
        {
            return Err(ApiError::new(
                ErrorKind::VersionMismatch,
                format!(
                    "The stream version {v} does not match the current version {}",
                    rec.version
                ),
            ));
        }
        if rec.status != StreamStatus::Active {
            return Err(ApiError::in_use(format!(
                "The stream {} is {}; try again once it is ACTIVE",
                rec.name,
                rec.status.as_str()
            )));
        }
        let mut update = change(&rec)?;
        update.version = Some(ids::new_version());
        sql::update(&conn, rec.id, &update).map_err(db_error)?;
        sql::by_id(&conn, rec.id)
            .map_err(db_error)?
            .ok_or_else(not_found)
    }

    /// Marks a stream DELETING (after the version check); `finish_delete` removes it.
    pub fn begin_delete(
        &self,
        arn: &str,
        current_version: Option<&str>,
    ) -> Result<StreamRecord, ApiError> {
        let conn = self.inner.db.lock();
        let rec = self.find(&conn, StreamSelector::new(None, Some(arn)))?;
        if rec.status == StreamStatus::Deleting {
            return Err(ApiError::in_use(format!(
                "The stream {} is already being deleted",
                rec.name
            )));
        }
        if let Some(v) = current_version
            && v != rec.version
        {
            return Err(ApiError::new(
                ErrorKind::VersionMismatch,
                format!(
                    "The stream version {v} does not match the current version {}",
                    rec.version
                ),
            ));
        }
        let update = StreamUpdate {
            status: Some(StreamStatus::Deleting),
            ..Default::default()
        };
        sql::update(&conn, rec.id, &update).map_err(db_error)?;
        Ok(StreamRecord {
            status: StreamStatus::Deleting,
            ..rec
        })
    }

    pub fn finish_delete(&self, id: i64) -> Result<(), ApiError> {
        let conn = self.inner.db.lock();
        sql::delete(&conn, id).map_err(db_error)
    }

    /// Streams whose deletion was cut short (by a restart, say).
    pub fn deleting(&self) -> Result<Vec<StreamRecord>, ApiError> {
        let conn = self.inner.db.lock();
        sql::with_status(&conn, StreamStatus::Deleting).map_err(db_error)
    }

    pub fn tags(&self, rec: &StreamRecord) -> Result<BTreeMap<String, String>, ApiError> {
        let conn = self.inner.db.lock();
        sql::tags(&conn, rec.id).map_err(db_error)
    }

    /// Adds or overwrites tags, keeping the total within `max`.
    pub fn tag(
        &self,
        sel: StreamSelector<'_>,
        tags: &BTreeMap<String, String>,
        max: usize,
    ) -> Result<(), ApiError> {
        let conn = self.inner.db.lock();
        let rec = self.find(&conn, sel)?;
        if rec.status == StreamStatus::Deleting {
            return Err(not_found());
        }
        let mut merged = sql::tags(&conn, rec.id).map_err(db_error)?;
        merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        if merged.len() > max {
            return Err(ApiError::new(
                ErrorKind::TagsPerResourceExceededLimit,
                format!("A stream can have at most {max} tags"),
            ));
        }
        sql::put_tags(&conn, rec.id, tags).map_err(db_error)
    }

    pub fn untag(&self, sel: StreamSelector<'_>, keys: &[String]) -> Result<(), ApiError> {
        let conn = self.inner.db.lock();
        let rec = self.find(&conn, sel)?;
        if rec.status == StreamStatus::Deleting {
            return Err(not_found());
        }
        sql::remove_tags(&conn, rec.id, keys).map_err(db_error)
    }

    pub fn config(
        &self,
        rec: &StreamRecord,
        col: ConfigColumn,
    ) -> Result<Option<String>, ApiError> {
        let conn = self.inner.db.lock();
        sql::config(&conn, rec.id, col).map_err(db_error)
    }

    /// Replaces a configuration of an ACTIVE stream with retention (NoDataRetention else).
    pub fn set_config(
        &self,
        sel: StreamSelector<'_>,
        col: ConfigColumn,
        check: impl FnOnce(&StreamRecord) -> Result<Option<String>, ApiError>,
    ) -> Result<(), ApiError> {
        let conn = self.inner.db.lock();
        let rec = self.find(&conn, sel)?;
        if rec.status == StreamStatus::Deleting {
            return Err(not_found());
        }
        if rec.status != StreamStatus::Active {
            return Err(ApiError::in_use(format!(
                "The stream {} is {}",
                rec.name,
                rec.status.as_str()
            )));
        }
        if rec.data_retention_hours == 0 {
            return Err(ApiError::new(
                ErrorKind::NoDataRetention,
                format!("The stream {} has no data retention", rec.name),
            ));
        }
        let json = check(&rec)?;
        sql::set_config(&conn, rec.id, col, json.as_deref()).map_err(db_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(delay: Duration) -> StreamRegistry {
        StreamRegistry::new(Db::open_in_memory().unwrap(), delay)
    }

    fn create(reg: &StreamRegistry, name: &str) -> StreamRecord {
        let arn = StreamArn::new("us-east-1", "000000000000", name, ids::now_ms()).to_string();
        reg.create(
            &NewStream {
                name,
                arn: &arn,
                status: StreamStatus::Creating,
                version: "v1",
                device_name: None,
                media_type: None,
                kms_key_id: None,
                retention_hours: 1,
                creation_time_ms: ids::now_ms(),
                storage_tier: "HOT",
            },
            &BTreeMap::new(),
        )
        .unwrap()
    }

    #[test]
    fn creating_streams_activate_after_the_delay_only() {
        let reg = registry(Duration::from_secs(3600));
        assert_eq!(create(&reg, "slow").status, StreamStatus::Creating);
        let err = reg
            .update_versioned(StreamSelector::new(Some("slow"), None), Some("v1"), |_| {
                Ok(StreamUpdate::default())
            })
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::ResourceInUse);

        let reg = registry(Duration::ZERO);
        assert_eq!(create(&reg, "fast").status, StreamStatus::Active);
    }

    #[test]
    fn versions_guard_updates_and_change_on_each() {
        let reg = registry(Duration::ZERO);
        let rec = create(&reg, "s");
        let sel = StreamSelector::new(Some("s"), None);
        let err = reg
            .update_versioned(sel, Some("other"), |_| Ok(StreamUpdate::default()))
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::VersionMismatch);
        let updated = reg
            .update_versioned(sel, Some(&rec.version), |_| {
                Ok(StreamUpdate {
                    retention_hours: Some(9),
                    ..Default::default()
                })
            })
            .unwrap();
        assert_eq!(updated.data_retention_hours, 9);
        assert_ne!(updated.version, rec.version);
    }

    #[test]
    fn deleting_streams_are_hidden_from_lookups_but_described() {
        let reg = registry(Duration::ZERO);
        let rec = create(&reg, "d");
        reg.begin_delete(&rec.arn, None).unwrap();
        assert_eq!(
            reg.stream_by_name_or_arn(Some("d"), None).unwrap_err().kind,
            ErrorKind::ResourceNotFound
        );
        let described = reg.describe(StreamSelector::new(Some("d"), None)).unwrap();
        assert_eq!(described.status, StreamStatus::Deleting);
        assert_eq!(reg.deleting().unwrap().len(), 1);
        reg.finish_delete(rec.id).unwrap();
        assert_eq!(
            reg.describe(StreamSelector::new(None, Some(&rec.arn)))
                .unwrap_err()
                .kind,
            ErrorKind::ResourceNotFound
        );
    }

    #[test]
    fn list_pages_by_name_with_prefix_literal_underscores() {
        let reg = registry(Duration::ZERO);
        for name in ["a_1", "ab", "a_2", "b"] {
            create(&reg, name);
        }
        let names = |v: Vec<StreamRecord>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
        // `_` is matched literally, not as a LIKE wildcard.
        assert_eq!(names(reg.list("a_", None, 10).unwrap()), ["a_1", "a_2"]);
        assert_eq!(names(reg.list("", Some("a_2"), 10).unwrap()), ["ab", "b"]);
        assert_eq!(names(reg.list("", None, 2).unwrap()), ["a_1", "a_2"]);
    }

    #[test]
    fn name_and_arn_must_agree() {
        let reg = registry(Duration::ZERO);
        let a = create(&reg, "a");
        create(&reg, "b");
        let err = reg
            .stream_by_name_or_arn(Some("b"), Some(&a.arn))
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert_eq!(
            reg.stream_by_name_or_arn(Some("a"), Some(&a.arn))
                .unwrap()
                .id,
            a.id
        );
        assert_eq!(
            reg.stream_by_name_or_arn(None, None).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
    }
}
