//! Reading what is intact out of a damaged tablet file, for `cageur-admin salvage`.
//!
//! SQLCipher authenticates every page it reads, so a flipped byte or a file cut short shows
//! as an error on the pages it touched, never as wrong data; a query that meets one stops.
//! To recover the records around the damage, the record table is read in key order from
//! both ends, then the gap between the two failures is probed: the gap is split into equal
//! key ranges and each is read from its start until it ends or meets damage, recursively to
//! [`PROBE_DEPTH`]. The key is the row's place in `records` (schema 7 on), read without any
//! index, so a damaged index page loses nothing; in a file of an earlier schema, each kind's
//! table is read by record id (16 bytes compared as big-endian numbers). What sits on a
//! damaged page (a handful of records per 4 KiB page) is lost; everything else is read. The
//! file is opened with its key and read only: no migration, no write.

use std::collections::BTreeMap;
use std::path::Path;

use cageur_model::RecordKind;
use cageur_protocol::RecordState;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use crate::error::Result;
use crate::replica::DeviceInfo;
use crate::store::{self, DatabaseKey, tables};

/// Equal key ranges a gap around damage is split into, at each level.
const PROBES: u128 = 8;

/// Levels of splitting: at most `PROBES^PROBE_DEPTH` reads per damaged stretch.
const PROBE_DEPTH: u32 = 3;

/// What could be read of a damaged file.
#[derive(Debug, Clone, Default)]
pub struct Rescued {
    /// The device the file belongs to, if its page could be read.
    pub device: Option<DeviceInfo>,
    /// The server history (epoch) the device last synced with, if readable.
    pub epoch: Option<String>,
    /// Every record whose state could be read and decodes, by kind then id.
    pub records: Vec<RescuedRecord>,
    /// Records recovered, by kind.
    pub recovered: BTreeMap<RecordKind, u64>,
    /// Reads that met damage (each a damaged stretch or page of a table).
    pub damaged_reads: u64,
    /// Rows that were read but whose state does not decode.
    pub undecodable: u64,
}

/// One recovered record: its state as stored, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RescuedRecord {
    /// Its kind, from the table it was read from.
    pub kind: RecordKind,
    /// The record.
    pub id: Uuid,
    /// Its envelope, as the tablet stored it (it decodes).
    pub state: Vec<u8>,
}

/// Reads everything intact of the database at `path` (a copy: SQLite may tidy its write-ahead
/// log on close). Fails only if the key is wrong or the file's first page is damaged.
pub fn rescue(path: &Path, key: &DatabaseKey) -> Result<Rescued> {
    let mut reader = Reader {
        conn: store::open_keyed(path, key)?,
        path,
        key,
    };
    let mut out = Rescued {
        device: read_device(&reader.conn),
        epoch: reader
            .conn
            .query_row("SELECT epoch FROM sync_state", [], |r| r.get(0))
            .optional()
            .ok()
            .flatten()
            .flatten(),
        ..Rescued::default()
    };
    let sources = if has_records_table(&reader.conn) {
        vec![Source::Records]
    } else {
        RecordKind::ALL.iter().map(|k| Source::Table(*k)).collect()
    };
    for source in sources {
        let mut rows = BTreeMap::new();
        out.damaged_reads += read_source(&mut reader, source, &mut rows);
        for (kind, id, state) in rows.into_values() {
            if RecordState::decode(&state).is_err() {
                out.undecodable += 1;
                continue;
            }
            *out.recovered.entry(kind).or_insert(0) += 1;
            out.records.push(RescuedRecord { kind, id, state });
        }
    }
    out.records.sort_by_key(|r| (r.kind, r.id));
    Ok(out)
}

/// Whether every page of the file authenticates and its structure is sound: the problems
/// found, none if the file is intact. Reads the whole file.
pub fn check(path: &Path, key: &DatabaseKey) -> Result<Vec<String>> {
    let conn = store::open_keyed(path, key)?;
    let mut problems = Vec::new();
    for pragma in ["PRAGMA cipher_integrity_check", "PRAGMA integrity_check"] {
        let found: Vec<String> = match conn.prepare(pragma).and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        }) {
            Ok(rows) => rows,
            Err(e) => vec![e.to_string()],
        };
        problems.extend(found.into_iter().filter(|line| line != "ok"));
    }
    Ok(problems)
}

/// The connection the rescue reads through. A page that fails its authentication leaves the
/// connection's pager in an error state that fails every later read, so after damage the
/// file is opened again.
struct Reader<'a> {
    conn: Connection,
    path: &'a Path,
    key: &'a DatabaseKey,
}

impl Reader<'_> {
    /// Reads `source`'s rows over `[lo, hi]`; on damage, the error carries the last key read
    /// (if any), and the connection is opened afresh.
    fn rows(
        &mut self,
        source: Source,
        descending: bool,
        lo: u128,
        hi: u128,
        rows: &mut Rows,
    ) -> std::result::Result<(), Option<u128>> {
        let read = read_rows(&self.conn, source, descending, lo, hi, rows);
        if read.is_err()
            && let Ok(fresh) = store::open_keyed(self.path, self.key)
        {
            self.conn = fresh;
        }
        read
    }
}

fn read_device(conn: &Connection) -> Option<DeviceInfo> {
    conn.query_row(
        "SELECT device_number, puskesmas, team FROM device",
        [],
        |r| {
            Ok(DeviceInfo {
                number: r.get(0)?,
                puskesmas: r.get(1)?,
                team: r.get(2)?,
            })
        },
    )
    .ok()
}

/// Whether the file has the one record table of schema 7 on. If the schema cannot be read,
/// the current layout is assumed.
fn has_records_table(conn: &Connection) -> bool {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'records'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map_or(true, |n| n > 0)
}

/// A row read: its kind, id and state, by its key.
type Rows = BTreeMap<u128, (RecordKind, Uuid, Vec<u8>)>;

/// A b-tree that records are read from, in its key's order.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// `records` (schema 7 on), by rowid: every kind, no index read.
    Records,
    /// An earlier schema's table of one kind, by id.
    Table(RecordKind),
}

impl Source {
    /// The highest key there can be.
    fn max_key(self) -> u128 {
        match self {
            Source::Records => i64::MAX as u128,
            Source::Table(_) => u128::MAX,
        }
    }

    /// The query of the rows whose keys lie in `[?1, ?2]`, giving key, id, kind and state.
    fn sql(self, descending: bool) -> String {
        let order = if descending { "DESC" } else { "" };
        match self {
            Source::Records => format!(
                "SELECT rid, id, kind, state FROM records NOT INDEXED
                 WHERE rid >= ?1 AND rid <= ?2 ORDER BY rid {order}"
            ),
            Source::Table(kind) => format!(
                "SELECT id, id, {}, state FROM {} WHERE id >= ?1 AND id <= ?2 ORDER BY id {order}",
                kind.code(),
                tables::table(kind)
            ),
        }
    }

    /// A key as the query's parameter.
    fn bind(self, key: u128) -> Value {
        match self {
            Source::Records => Value::Integer(i64::try_from(key).unwrap_or(i64::MAX)),
            Source::Table(_) => Value::Blob(key.to_be_bytes().to_vec()),
        }
    }

    /// A row's key as a number, from the query's first column.
    fn key(self, row: &rusqlite::Row<'_>) -> Option<u128> {
        match self {
            Source::Records => u128::try_from(row.get::<_, i64>(0).ok()?).ok(),
            Source::Table(_) => Some(u128::from_be_bytes(
                <[u8; 16]>::try_from(row.get::<_, Vec<u8>>(0).ok()?.as_slice()).ok()?,
            )),
        }
    }
}

/// Reads every intact row of `source` into `rows`; returns how many reads met damage.
fn read_source(reader: &mut Reader<'_>, source: Source, rows: &mut Rows) -> u64 {
    let max = source.max_key();
    let forward = read_range(reader, source, 0, max, rows);
    let Err(stopped_after) = forward else {
        return 0;
    };
    let from = stopped_after.map_or(0, |key| key.saturating_add(1));
    let backward = read_back(reader, source, from, rows);
    let Err(stopped_before) = backward else {
        return 1;
    };
    let until = stopped_before.map_or(max, |key| key.saturating_sub(1));
    2 + probe(reader, source, from, until, PROBE_DEPTH, rows)
}

/// Reads the gap `[lo, hi]` as [`PROBES`] equal key ranges, each from its start; a range that
/// meets damage is split again below the damage, `depth` times at most.
fn probe(
    reader: &mut Reader<'_>,
    source: Source,
    lo: u128,
    hi: u128,
    depth: u32,
    rows: &mut Rows,
) -> u64 {
    if lo > hi || depth == 0 {
        return 0;
    }
    let step = ((hi - lo) / PROBES).max(1);
    let mut damaged = 0;
    let mut start = lo;
    loop {
        let end = if hi - start <= step {
            hi
        } else {
            start + step - 1
        };
        if let Err(stopped_after) = read_range(reader, source, start, end, rows) {
            damaged += 1;
            let resume = stopped_after.map_or(start, |key| key.saturating_add(1));
            damaged += probe(reader, source, resume, end, depth - 1, rows);
        }
        if end == hi {
            return damaged;
        }
        start = end + 1;
    }
}

/// Reads `[lo, hi]` in key order; on damage, the error carries the last key read (if any).
fn read_range(
    reader: &mut Reader<'_>,
    source: Source,
    lo: u128,
    hi: u128,
    rows: &mut Rows,
) -> std::result::Result<(), Option<u128>> {
    reader.rows(source, false, lo, hi, rows)
}

/// Reads `[lo, ∞)` from the highest key down; on damage, the error carries the last (lowest)
/// key read.
fn read_back(
    reader: &mut Reader<'_>,
    source: Source,
    lo: u128,
    rows: &mut Rows,
) -> std::result::Result<(), Option<u128>> {
    reader.rows(source, true, lo, source.max_key(), rows)
}

fn read_rows(
    conn: &Connection,
    source: Source,
    descending: bool,
    lo: u128,
    hi: u128,
    rows: &mut Rows,
) -> std::result::Result<(), Option<u128>> {
    let mut last = None;
    let Ok(mut stmt) = conn.prepare(&source.sql(descending)) else {
        return Err(last);
    };
    let Ok(mut found) = stmt.query([source.bind(lo), source.bind(hi)]) else {
        return Err(last);
    };
    loop {
        match found.next() {
            Ok(Some(row)) => {
                let (Some(key), Ok(id), Ok(kind), Ok(state)) = (
                    source.key(row),
                    row.get::<_, Vec<u8>>(1),
                    row.get::<_, u8>(2),
                    row.get::<_, Vec<u8>>(3),
                ) else {
                    return Err(last);
                };
                last = Some(key);
                let (Some(id), Some(kind)) =
                    (tables::uuid_from_blob(&id), RecordKind::from_code(kind))
                else {
                    continue;
                };
                rows.insert(key, (kind, id, state));
            }
            Ok(None) => return Ok(()),
            Err(_) => return Err(last),
        }
    }
}
