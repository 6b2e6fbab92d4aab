//! Reading and writing records: one table, `records`, holds every kind (schema v7), the state
//! blob beside query columns; a view per kind (`households`, `persons`, ...) reads one kind.

use std::sync::LazyLock;

use cageur_model::RecordKind;
use cageur_protocol::{DecodedState, RecordState, Summary, policy};
use rusqlite::{CachedStatement, Connection, OptionalExtension, ToSql};
use uuid::Uuid;

use crate::error::{FieldError, Result};

/// The view that reads the records of `kind` (writes go to `records`).
pub(crate) fn table(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Household => "households",
        RecordKind::Person => "persons",
        RecordKind::Visit => "visits",
        RecordKind::Referral => "referrals",
        RecordKind::FollowUp => "followups",
    }
}

/// Columns every record table has, derived from the state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Common {
    /// Neither removed nor merged into another record.
    pub live: bool,
    pub merged_into: Option<Uuid>,
    /// Fields in conflict.
    pub conflicts: u32,
    /// The tombstone is set.
    pub removed: bool,
}

/// The query columns of one record, by kind. Derived from its shown fields on every write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Columns {
    Household {
        kk: Option<i64>,
        puskesmas: Option<String>,
        kelurahan: Option<String>,
        rw: Option<i64>,
        rt: Option<i64>,
    },
    Person {
        household: Option<Uuid>,
        nik: Option<i64>,
        name_key: Option<String>,
        /// [`cageur_model::Sex::code`].
        sex: Option<i64>,
        /// Birth date, as days since 1970-01-01.
        born: Option<i32>,
    },
    Visit {
        household: Option<Uuid>,
        visited_on: Option<i32>,
        /// Somebody was seen (outcome `visited`).
        seen: bool,
        /// A screening raised a flag.
        flagged: bool,
        /// A screening raised an urgent flag (a danger sign).
        urgent: bool,
    },
    Referral {
        person: Option<Uuid>,
        household: Option<Uuid>,
        status: Option<i64>,
        urgent: bool,
    },
    FollowUp {
        person: Option<Uuid>,
        household: Option<Uuid>,
        due: Option<i32>,
        done: bool,
    },
}

impl Columns {
    /// The kind of record these are the columns of.
    fn kind(&self) -> RecordKind {
        match self {
            Columns::Household { .. } => RecordKind::Household,
            Columns::Person { .. } => RecordKind::Person,
            Columns::Visit { .. } => RecordKind::Visit,
            Columns::Referral { .. } => RecordKind::Referral,
            Columns::FollowUp { .. } => RecordKind::FollowUp,
        }
    }
}

/// The stored envelope bytes of a record, or `None` if there is none.
pub(crate) fn load_bytes(conn: &Connection, kind: RecordKind, id: Uuid) -> Result<Option<Vec<u8>>> {
    let sql = format!("SELECT state FROM {} WHERE id = ?1", table(kind));
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.as_bytes()], |r| r.get(0))
        .optional()?)
}

/// The stored state of a record, or `None` if there is none.
pub(crate) fn load(conn: &Connection, kind: RecordKind, id: Uuid) -> Result<Option<RecordState>> {
    load_bytes(conn, kind, id)?
        .map(|b| {
            RecordState::decode(&b).map_err(|e| FieldError::Damaged {
                kind,
                id,
                reason: e.to_string(),
            })
        })
        .transpose()
}

/// A record's shown values, read without building its CRDTs: what checking a user's input
/// against the records it names needs (a visit names its household and every screened
/// person), at a fraction of [`load`]'s cost.
pub(crate) fn load_summary(
    conn: &Connection,
    kind: RecordKind,
    id: Uuid,
) -> Result<Option<Summary>> {
    load_bytes(conn, kind, id)?
        .map(|b| {
            DecodedState::read(&b)
                .map(|d| d.into_summary(&policy(kind)))
                .map_err(|e| FieldError::Damaged {
                    kind,
                    id,
                    reason: e.to_string(),
                })
        })
        .transpose()
}

/// How [`write`] treats a record already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// Replace it.
    Replace,
    /// Leave it, and write nothing.
    New,
}

/// The columns every record has, in parameter order.
const COMMON: [&str; 6] = ["id", "state", "live", "merged_into", "conflicts", "removed"];

/// Each kind's query columns after [`COMMON`], in parameter order.
const COLUMNS: [(RecordKind, &[&str]); 5] = [
    (
        RecordKind::Household,
        &["kk", "puskesmas", "kelurahan", "rw", "rt"],
    ),
    (
        RecordKind::Person,
        &["household", "nik", "name_key", "sex", "born"],
    ),
    (
        RecordKind::Visit,
        &["household", "visited_on", "seen", "flagged", "urgent"],
    ),
    (
        RecordKind::Referral,
        &["person", "household", "status", "urgent"],
    ),
    (
        RecordKind::FollowUp,
        &["person", "household", "due", "done"],
    ),
];

/// The insert statement of a kind, for each [`Write`]. [`Write::Replace`] updates a stored
/// record in place (its row keeps its place in the table) and only if it is of the same
/// kind: an id stored as another kind's record changes no row, which [`write`] refuses.
fn insert_sql(kind: RecordKind, mode: Write) -> &'static str {
    static SQL: LazyLock<Vec<(RecordKind, Write, String)>> = LazyLock::new(|| {
        let mut all = Vec::new();
        for (kind, columns) in COLUMNS {
            let names: Vec<&str> = COMMON.iter().chain(columns).copied().collect();
            let values: Vec<String> = (1..=names.len()).map(|n| format!("?{n}")).collect();
            let insert = format!(
                "INSERT INTO records (kind, {}) VALUES ({}, {})",
                names.join(", "),
                kind.code(),
                values.join(", ")
            );
            let updates: Vec<String> = names[1..]
                .iter()
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            let upsert = format!(
                "{insert} ON CONFLICT (id) DO UPDATE SET {} WHERE kind = excluded.kind",
                updates.join(", ")
            );
            all.push((kind, Write::New, insert));
            all.push((kind, Write::Replace, upsert));
        }
        all
    });
    SQL.iter()
        .find(|(k, m, _)| *k == kind && *m == mode)
        .map(|(_, _, sql)| sql.as_str())
        .expect("every kind has its statements")
}

/// Writes a record's state (envelope bytes) and query columns. Returns `false`, having
/// written nothing, when `mode` is [`Write::New`] and the record is already stored; refuses
/// to replace a record stored as another kind.
pub(crate) fn write(
    conn: &Connection,
    id: Uuid,
    state: &[u8],
    common: &Common,
    columns: &Columns,
    mode: Write,
) -> Result<bool> {
    Writes::new(conn).write(id, state, common, columns, mode)
}

/// The statements of a batch of writes, each prepared once for the batch: looking a statement
/// up in the connection's cache hashes its text, which cost 3% of a bootstrap's writing thread
/// when done for every one of its 165,000 records.
pub(crate) struct Writes<'c> {
    conn: &'c Connection,
    /// At most one per kind and [`Write`].
    prepared: Vec<(RecordKind, Write, CachedStatement<'c>)>,
}

impl<'c> Writes<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Writes {
            conn,
            prepared: Vec::new(),
        }
    }

    /// The connection written to.
    pub(crate) fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// [`write`], through this batch's statements.
    pub(crate) fn write(
        &mut self,
        id: Uuid,
        state: &[u8],
        common: &Common,
        columns: &Columns,
        mode: Write,
    ) -> Result<bool> {
        let kind = columns.kind();
        let at = match self
            .prepared
            .iter()
            .position(|p| (p.0, p.1) == (kind, mode))
        {
            Some(at) => at,
            None => {
                let statement = self.conn.prepare_cached(insert_sql(kind, mode))?;
                self.prepared.push((kind, mode, statement));
                self.prepared.len() - 1
            }
        };
        let insert = &mut self.prepared[at].2;
        let blob = |u: &Option<Uuid>| u.map(|u| *u.as_bytes());
        let (id, merged) = (*id.as_bytes(), blob(&common.merged_into));
        let common: [&dyn ToSql; 6] = [
            &id,
            &state,
            &common.live,
            &merged,
            &common.conflicts,
            &common.removed,
        ];
        // Borrowed values only: this runs for every record a pull brings.
        let mut execute = |rest: &[&dyn ToSql]| {
            insert.execute(rusqlite::params_from_iter(common.iter().chain(rest)))
        };
        let written = match columns {
            Columns::Household {
                kk,
                puskesmas,
                kelurahan,
                rw,
                rt,
            } => execute(&[kk, puskesmas, kelurahan, rw, rt]),
            Columns::Person {
                household,
                nik,
                name_key,
                sex,
                born,
            } => execute(&[&blob(household), nik, name_key, sex, born]),
            Columns::Visit {
                household,
                visited_on,
                seen,
                flagged,
                urgent,
            } => execute(&[&blob(household), visited_on, seen, flagged, urgent]),
            Columns::Referral {
                person,
                household,
                status,
                urgent,
            } => execute(&[&blob(person), &blob(household), status, urgent]),
            Columns::FollowUp {
                person,
                household,
                due,
                done,
            } => execute(&[&blob(person), &blob(household), due, done]),
        };
        match written {
            Ok(0) => Err(cageur_model::ValidationError::new(
                "kind",
                cageur_model::Rule::Consistency,
                format!(
                    "record {} is another kind's here, not a {kind}",
                    Uuid::from_bytes(id)
                ),
            )
            .into()),
            Ok(_) => Ok(true),
            Err(e)
                if mode == Write::New
                    && e.sqlite_error().is_some_and(|e| {
                        e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    }) =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A household's puskesmas, if the household is stored and not removed (`Some(None)`: stored,
/// of no puskesmas): [`exists`] and [`puskesmas_of`] in one statement.
pub(crate) fn household_here(conn: &Connection, id: Uuid) -> Result<Option<Option<String>>> {
    Ok(conn
        .prepare_cached("SELECT puskesmas FROM households WHERE id = ?1 AND NOT removed")?
        .query_row([id.as_bytes()], |r| r.get::<_, Option<String>>(0))
        .optional()?)
}

/// Whether a record of `kind` with this id is stored and not removed (a record merged into
/// another still exists).
pub(crate) fn exists(conn: &Connection, kind: RecordKind, id: Uuid) -> Result<bool> {
    let sql = format!("SELECT NOT removed FROM {} WHERE id = ?1", table(kind));
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.as_bytes()], |r| r.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false))
}

/// The puskesmas of the household a record belongs to (a household's own), if this device
/// holds the household.
pub(crate) fn puskesmas_of(
    conn: &Connection,
    kind: RecordKind,
    id: Uuid,
) -> Result<Option<String>> {
    let sql = match kind {
        RecordKind::Household => "SELECT puskesmas FROM households WHERE id = ?1".to_owned(),
        other => format!(
            "SELECT h.puskesmas FROM {} r JOIN households h ON h.id = r.household
             WHERE r.id = ?1",
            table(other)
        ),
    };
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.as_bytes()], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// What checking a screening, a referral or a follow-up needs to know of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PersonFacts {
    pub household: Uuid,
    pub sex: cageur_model::Sex,
    pub birth_date: chrono::NaiveDate,
    /// The puskesmas of the person's household, if this device holds it.
    pub puskesmas: Option<String>,
}

/// A person's [`PersonFacts`] from the query columns, with no state decoded; `None` if the
/// person is not stored or removed. Columns that do not read as the facts mean the record is
/// damaged (they are derived from a state that always has them).
pub(crate) fn person_facts(conn: &Connection, id: Uuid) -> Result<Option<PersonFacts>> {
    let facts = conn
        .prepare_cached(
            "SELECT p.household, p.sex, p.born, h.puskesmas FROM persons p
             LEFT JOIN households h ON h.id = p.household
             WHERE p.id = ?1 AND NOT p.removed",
        )?
        .query_row([id.as_bytes()], read_person_facts)
        .optional()?;
    let Some(facts) = facts else {
        return Ok(None);
    };
    facts.map(Some).ok_or_else(|| FieldError::Damaged {
        kind: RecordKind::Person,
        id,
        reason: "its household, sex or birth date column does not read".into(),
    })
}

/// The [`PersonFacts`] of a household's live members that are not removed, by id, in one
/// statement: what [`person_facts`] would give for each of them, given the household's
/// `puskesmas`. A member whose columns do not read is left out (asked for alone, it is
/// reported as damaged).
pub(crate) fn members_facts(
    conn: &Connection,
    household: Uuid,
    puskesmas: Option<&str>,
) -> Result<Vec<(Uuid, PersonFacts)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT household, sex, born, ?2, id FROM persons
         WHERE household = ?1 AND live AND NOT removed",
    )?;
    let mut rows = stmt.query(rusqlite::params![household.as_bytes(), puskesmas])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: Vec<u8> = row.get(4)?;
        if let (Some(id), Some(facts)) = (uuid_from_blob(&id), read_person_facts(row)?) {
            out.push((id, facts));
        }
    }
    Ok(out)
}

/// A row of household, sex, birth date and the household's puskesmas as [`PersonFacts`];
/// `None` if one of the first three does not read.
fn read_person_facts(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<PersonFacts>> {
    let (household, sex, born): (Option<Vec<u8>>, Option<i64>, Option<i32>) =
        (r.get(0)?, r.get(1)?, r.get(2)?);
    let puskesmas: Option<String> = r.get(3)?;
    Ok((|| {
        Some(PersonFacts {
            household: uuid_from_blob(&household?)?,
            sex: cageur_model::Sex::from_code(u8::try_from(sex?).ok()?)?,
            birth_date: cageur_model::fields::date_from_days(born?)?,
            puskesmas,
        })
    })())
}

/// Which kind of record has this id, if any (ids are unique across kinds).
pub(crate) fn kind_of(conn: &Connection, id: Uuid) -> Result<Option<RecordKind>> {
    let code: Option<u8> = conn
        .prepare_cached("SELECT kind FROM records WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| r.get(0))
        .optional()?;
    Ok(code.and_then(RecordKind::from_code))
}

/// Deletes a record, whatever its kind; `false` if there was none.
pub(crate) fn delete(conn: &Connection, id: Uuid) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM records WHERE id = ?1")?
        .execute([id.as_bytes()])?
        > 0)
}

/// Whether the replica holds no records at all.
pub(crate) fn is_empty(conn: &Connection) -> Result<bool> {
    Ok(
        conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM records)", [], |r| {
            r.get(0)
        })?,
    )
}

/// Calls `each` with every record of `kind` in id order: its id and state bytes. Read through
/// the id index, so the states are never sorted (a sort this large would spill to a
/// temporary file).
pub(crate) fn each_of_kind(
    conn: &Connection,
    kind: RecordKind,
    mut each: impl FnMut(Uuid, Vec<u8>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, state FROM records INDEXED BY records_id WHERE kind = ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([kind.code()])?;
    while let Some(row) = rows.next()? {
        let (id, state): (Vec<u8>, Vec<u8>) = (row.get(0)?, row.get(1)?);
        if let Some(id) = uuid_from_blob(&id) {
            each(id, state)?;
        }
    }
    Ok(())
}

/// Reads a UUID stored as a 16-byte blob.
pub(crate) fn uuid_from_blob(bytes: &[u8]) -> Option<Uuid> {
    Uuid::from_slice(bytes).ok()
}
