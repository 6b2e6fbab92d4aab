//! The device's SQLite database: opening it (encrypted, WAL), its schema, the per-kind record
//! tables and the outbox.

mod key;
pub(crate) mod outbox;
pub(crate) mod schema;
pub(crate) mod tables;

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use key::DatabaseKey;
pub use schema::SCHEMA_VERSION;

use crate::error::{FieldError, Result};

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a committed visit survives a power cut. The default: a visit
    /// recorded in a house may never be lost.
    #[default]
    Full,
    /// `synchronous=NORMAL`: in WAL mode, the last commits may be lost on power failure (never
    /// corrupted). For bulk work such as seeding or rebuilding a replica.
    Normal,
}

/// The page cache of a device connection, in KiB. A puskesmas's replica is about 120 MB; with
/// SQLite's default of 2 MiB a bootstrap keeps evicting the index pages it needs next, and
/// every page read again from the file is decrypted and its HMAC checked again. With 32 MiB a
/// bootstrap of 164,971 records took 3.6 s instead of 4.7 s, at 71 MB peak memory instead of
/// 33 (docs/benchmarks.md).
pub const PAGE_CACHE_KIB: i64 = 32 * 1024;

/// Opens (creating if needed) an encrypted device database and brings its schema up to date.
///
/// The key is checked before anything is written: a wrong key, or a file that is not a
/// SQLCipher database, gives [`FieldError::WrongKey`] and leaves the file untouched.
///
/// `rederive` fills query columns that a migration adds from the records' states.
pub(crate) fn open(
    path: &Path,
    key: &DatabaseKey,
    durability: Durability,
    rederive: schema::Rederive<'_>,
) -> Result<Connection> {
    let mut conn = open_keyed(path, key)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    debug_assert_eq!(mode.to_ascii_lowercase(), "wal");
    set_durability(&conn, durability)?;
    conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    schema::migrate(&mut conn, rederive)?;
    Ok(conn)
}

/// Opens a database file with its key, and checks the key by reading the first page; nothing
/// else is read or written (what [`crate::rescue`] needs of a damaged file).
pub(crate) fn open_keyed(path: &Path, key: &DatabaseKey) -> Result<Connection> {
    wait_for_sqlcipher();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // SQLCipher logs a failed decryption on stderr; a wrong key is reported as our error.
    conn.execute_batch("PRAGMA cipher_log_level = NONE")?;
    conn.pragma_update(None, "key", key.pragma_value())?;
    // The first read decrypts page 1: a wrong key fails here, before any write.
    if let Err(err) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        return Err(match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => FieldError::WrongKey,
            _ => err.into(),
        });
    }
    Ok(conn)
}

/// Waits until SQLCipher has finished setting itself up in this process.
///
/// SQLite marks itself initialised before it runs SQLCipher's own start-up
/// (`sqlcipher_extra_init`, outside SQLite's init mutex), so a thread that opens its first
/// connection in that window finds SQLite ready and SQLCipher not: its `PRAGMA key` fails with
/// "An error occurred with PRAGMA key or rekey" (seen in CI, with tests opening databases in
/// parallel). Every open passes here first: one thread keys a throw-away in-memory database
/// until that works, and the others wait for it.
fn wait_for_sqlcipher() {
    static READY: Once = Once::new();
    READY.call_once(|| {
        for _ in 0..1000 {
            let keyed = Connection::open_in_memory()
                .and_then(|conn| conn.pragma_update(None, "key", "warm-up"));
            if keyed.is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Still failing after a second: the real open below reports SQLCipher's own error.
    });
}

pub(crate) fn set_durability(conn: &Connection, durability: Durability) -> Result<()> {
    let level = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", level)?;
    Ok(())
}
