//! The device file itself: encrypted at rest, a wrong key refused without damage.

mod support;

use field_core::model::{Household, Person};
use field_core::{DatabaseKey, DeviceInfo, FieldError, Replica};
use support::{Device, household_json, parse, person_json};

const NIK: &str = "3671054702900001";
const NAME: &str = "Siti Aminah";
const KK: &str = "3671051203150007";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every byte SQLite may have written for `db`: the file, its WAL and shared memory.
fn all_bytes(db: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", db.display());
        if let Ok(b) = std::fs::read(&path) {
            bytes.extend(b);
        }
    }
    bytes
}

fn needles() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [NIK, NAME, KK, "siti aminah", "Ahmad Suryadi", "Jl. Melati"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    // Stored states keep NIK and KK as integers: look for those bytes too.
    for digits in [NIK, KK] {
        let n: i64 = digits.parse().unwrap();
        out.push(n.to_be_bytes().to_vec());
        out.push(n.to_le_bytes().to_vec());
    }
    out
}

#[test]
fn no_nik_or_name_appears_in_the_database_files() {
    let mut d = Device::new(1);
    let hh = d
        .replica
        .add_household(&parse::<Household>(household_json()))
        .unwrap();
    d.replica
        .add_person(&parse::<Person>(person_json(hh.0)))
        .unwrap();
    // Look both while the WAL holds the data and after it is checkpointed into the file.
    let bytes = all_bytes(&d.path());
    for needle in needles() {
        assert!(
            !contains(&bytes, &needle),
            "found {:?} in the database files",
            String::from_utf8_lossy(&needle)
        );
    }
    let path = d.path();
    drop(d.replica);
    let bytes = all_bytes(&path);
    assert!(bytes.len() > 4096, "the database was written");
    for needle in needles() {
        assert!(!contains(&bytes, &needle));
    }
}

#[test]
fn the_plaintext_check_would_see_an_unencrypted_file() {
    // Guards the test above: the same search finds the name in a plain SQLite file.
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("plain.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE t (v TEXT)").unwrap();
    conn.execute("INSERT INTO t VALUES (?1)", [NAME]).unwrap();
    drop(conn);
    assert!(contains(&all_bytes(&path), NAME.as_bytes()));
}

#[test]
fn a_wrong_key_is_a_clear_error_and_never_damages_the_file() {
    let d = Device::new(1);
    let path = d.path();
    drop(d.replica);
    let before = all_bytes(&path);
    for wrong in [
        DatabaseKey::from_secret("not the key"),
        DatabaseKey::from_secret(&"ab".repeat(32)),
    ] {
        let err = Replica::open(&path, &wrong, support::options()).unwrap_err();
        assert!(matches!(err, FieldError::WrongKey), "{err:?}");
        let info = DeviceInfo {
            number: 2,
            puskesmas: None,
            team: None,
        };
        let err = Replica::init(&path, &wrong, info, support::options()).unwrap_err();
        assert!(matches!(err, FieldError::WrongKey), "{err:?}");
    }
    assert_eq!(all_bytes(&path), before, "the file is untouched");
    let replica = Replica::open(&path, &support::key(), support::options()).unwrap();
    assert_eq!(replica.device().number, 1);
}

#[test]
fn a_plain_sqlite_file_is_refused_as_not_a_device_database() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("plain.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x');")
        .unwrap();
    drop(conn);
    let err = Replica::open(&path, &support::key(), support::options()).unwrap_err();
    assert!(matches!(err, FieldError::WrongKey), "{err:?}");
}

#[test]
fn a_passphrase_key_works_like_a_raw_one() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("p.db");
    let key = DatabaseKey::from_secret("kata sandi puskesmas");
    let info = DeviceInfo {
        number: 5,
        puskesmas: None,
        team: None,
    };
    drop(Replica::init(&path, &key, info, support::options()).unwrap());
    assert_eq!(
        Replica::open(&path, &key, support::options())
            .unwrap()
            .device()
            .number,
        5
    );
    assert!(matches!(
        Replica::open(&path, &support::key(), support::options()),
        Err(FieldError::WrongKey)
    ));
}

#[test]
fn opening_an_uninitialised_file_says_so() {
    let dir = tempfile::TempDir::new().unwrap();
    let err = Replica::open(
        &dir.path().join("new.db"),
        &support::key(),
        support::options(),
    )
    .unwrap_err();
    assert!(matches!(err, FieldError::NotInitialised));
    let d = Device::new(1);
    let info = DeviceInfo {
        number: 2,
        puskesmas: None,
        team: None,
    };
    let path = d.path();
    drop(d.replica);
    assert!(matches!(
        Replica::init(&path, &support::key(), info, support::options()),
        Err(FieldError::AlreadyInitialised(1))
    ));
}
