//! Possible duplicates (the same KK number or NIK registered twice, on one tablet or on two
//! that later synced) and merging them.
//!
//! A merge marks one record as merged into the other and copies into the kept record the
//! values it lacks. Nothing is deleted: the merged record keeps its fields, and whatever was
//! recorded under it (members, visits, referrals) is found through the kept record. Both
//! writes are one action that syncs like any edit.

use cageur_model::{FieldKey, RecordKind, Rule, ValidationError, Value};
use cageur_protocol::policy;
use serde::Serialize;
use uuid::Uuid;

use super::Replica;
use super::read::groups_of_two_or_more;
use crate::error::{FieldError, Result};
use crate::store::tables::{self, uuid_from_blob};

/// Live records that share a KK number or NIK.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateGroup {
    /// Households (sharing a KK number) or people (sharing a NIK).
    pub kind: RecordKind,
    /// What they share: `kk` or `nik`.
    pub shared: &'static str,
    /// Two or more live records, in id order; keep one with [`Replica::merge_duplicates`].
    pub ids: Vec<Uuid>,
}

impl Replica {
    /// Every group of possible duplicates.
    pub fn duplicates(&self) -> Result<Vec<DuplicateGroup>> {
        let mut out = Vec::new();
        for (kind, table, column, shared) in [
            (RecordKind::Household, "households", "kk", "kk"),
            (RecordKind::Person, "persons", "nik", "nik"),
        ] {
            let sql = format!(
                "SELECT {column}, id FROM {table} WHERE live AND {column} IN
                 (SELECT {column} FROM {table} WHERE live AND {column} IS NOT NULL
                  GROUP BY {column} HAVING count(*) > 1)
                 ORDER BY {column}, id"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let pairs: Vec<(i64, Uuid)> = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?
                .filter_map(|r| r.ok().and_then(|(k, id)| Some((k, uuid_from_blob(&id)?))))
                .collect();
            for (_, ids) in groups_of_two_or_more(pairs) {
                out.push(DuplicateGroup { kind, shared, ids });
            }
        }
        Ok(out)
    }

    /// Merges record `drop` into record `keep` (two households, or two people).
    pub fn merge_duplicates(&mut self, keep: Uuid, drop: Uuid) -> Result<()> {
        if keep == drop {
            return Err(ValidationError::new(
                "drop",
                Rule::Consistency,
                "a record cannot be merged into itself",
            )
            .into());
        }
        let kind = tables::kind_of(&self.conn, keep)?.ok_or(FieldError::NotFound {
            kind: RecordKind::Household,
            id: keep,
        })?;
        if !matches!(kind, RecordKind::Household | RecordKind::Person) {
            return Err(ValidationError::new(
                "keep",
                Rule::Consistency,
                "only households and people are merged",
            )
            .into());
        }
        if tables::kind_of(&self.conn, drop)? != Some(kind) {
            return Err(ValidationError::new(
                "drop",
                Rule::Consistency,
                format!("must also be a {kind}"),
            )
            .into());
        }
        let keep_state = tables::load(&self.conn, kind, keep)?
            .ok_or_else(|| FieldError::not_found(kind, keep))?;
        let drop_state = tables::load(&self.conn, kind, drop)?
            .ok_or_else(|| FieldError::not_found(kind, drop))?;
        for (state, field) in [(&keep_state, "keep"), (&drop_state, "drop")] {
            let shown = state.shown(&policy(kind));
            if state.is_deleted()
                || shown
                    .get(&FieldKey::MERGED_INTO)
                    .is_some_and(|v| !v.is_null())
            {
                return Err(ValidationError::new(
                    field,
                    Rule::Consistency,
                    "is removed or already merged",
                )
                .into());
            }
        }
        let keep_fields = keep_state.shown(&policy(kind));
        let gained: cageur_model::FieldMap = drop_state
            .shown(&policy(kind))
            .into_iter()
            .filter(|(key, value)| {
                key.0 >= FieldKey::FIRST_ENTITY_FIELD
                    && !value.is_null()
                    && keep_fields.get(key).is_none_or(Value::is_null)
            })
            .collect();
        let mut marker = cageur_model::FieldMap::new();
        marker.insert(FieldKey::MERGED_INTO, Value::Id(keep));
        self.write_all(vec![(kind, keep, gained), (kind, drop, marker)])?;
        Ok(())
    }
}
