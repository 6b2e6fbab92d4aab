//! Opening an SQLCipher file exactly as field-core does, so a baseline pays the same
//! encryption, journal and sync costs; and measuring a database file's size.

use std::path::Path;
use std::time::Duration;

use field_core::{DatabaseKey, Durability};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::Result;

/// The raw 256-bit key of every benchmark database (a raw key, as the app's keystore gives:
/// no PBKDF2 on open).
pub const KEY: [u8; 32] = [
    0x8f, 0x1c, 0x2a, 0x9b, 0x7d, 0x6e, 0x5f, 0x4a, 0x3b, 0x2c, 0x1d, 0x0e, 0x9f, 0x8a, 0x7b, 0x6c,
    0x5d, 0x4e, 0x3f, 0x2a, 0x1b, 0x0c, 0x9d, 0x8e, 0x7f, 0x6a, 0x5b, 0x4c, 0x3d, 0x2e, 0x1f, 0x00,
];

/// [`KEY`] as field-core takes it.
pub fn key() -> DatabaseKey {
    DatabaseKey::Raw(KEY)
}

/// Opens (creating) an encrypted database with field-core's settings: SQLCipher raw key,
/// WAL, `synchronous` by `durability`, the same page cache, foreign keys on.
pub fn open(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    conn.execute_batch(&format!("PRAGMA key = \"x'{hex}'\""))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    assert_eq!(
        mode.to_ascii_lowercase(),
        "wal",
        "the database must be in WAL mode"
    );
    set_durability(&conn, durability)?;
    conn.pragma_update(None, "cache_size", -field_core::PAGE_CACHE_KIB)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

/// field-core's `synchronous` level for `durability`.
pub fn set_durability(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    let level = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", level)
}

/// A database's size once its write-ahead log is folded in.
#[derive(Debug, Clone, Copy)]
pub struct FileSize {
    /// The main file's length on disk.
    pub file_bytes: u64,
    /// `page_count * page_size`: what SQLite counts (the file size, once checkpointed).
    pub page_bytes: u64,
    /// Pages on the free list (bytes the file holds but no table uses).
    pub free_pages: u64,
}

/// Reopens the (closed) database at `path`, checkpoints its WAL into the main file and
/// truncates the WAL, then measures: without the checkpoint, recent pages sit in the WAL and
/// the main file's size says little.
pub fn checkpointed_size(path: &Path) -> Result<FileSize> {
    let conn = open(path, Durability::Normal)?;
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    assert_eq!(
        busy, 0,
        "checkpoint blocked: is another connection still open?"
    );
    // SQLCipher answers some of these pragmas with text ("4096"), SQLite with integers.
    let pragma = |name: &str| -> Result<u64> {
        let text: String = conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            Ok(match r.get_ref(0)? {
                ValueRef::Integer(n) => n.to_string(),
                other => String::from_utf8_lossy(other.as_bytes()?).into_owned(),
            })
        })?;
        Ok(text.trim().parse()?)
    };
    let (page_count, page_size, free_pages) = (
        pragma("page_count")?,
        pragma("page_size")?,
        pragma("freelist_count")?,
    );
    drop(conn);
    let file_bytes = std::fs::metadata(path)?.len();
    Ok(FileSize {
        file_bytes,
        page_bytes: page_count * page_size,
        free_pages,
    })
}
