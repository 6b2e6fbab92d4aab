//! A damaged device file (bytes flipped, cut short, the wrong key) is detected with a clear
//! error and never silently used; the rescue reads back every record that is intact.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use field_core::rescue::{check, rescue};
use field_core::seed::{SeedOptions, seed};
use field_core::{DatabaseKey, FieldError, Replica};
use uuid::Uuid;

const PAGE: u64 = 4096;

/// A tablet file of 150 seeded households (about 2,000 records), checkpointed into the main
/// file and closed; with every record's state as stored.
fn seeded_file(dir: &Path) -> (std::path::PathBuf, BTreeMap<Uuid, Vec<u8>>) {
    let mut device = support::Device::new(3);
    let options = SeedOptions {
        households: 150,
        seed: 11,
        puskesmas: "P3671050101".into(),
        team: "CPD-01".into(),
        today: support::now().date_naive(),
    };
    seed(&mut device.replica, &options, &mut |_| {}).unwrap();
    let states: BTreeMap<Uuid, Vec<u8>> = device
        .replica
        .all_states()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.state))
        .collect();
    let path = dir.join("device.db");
    let source = device.path();
    drop(device.replica);
    std::fs::copy(&source, &path).unwrap();
    for suffix in ["-wal", "-shm"] {
        let from = format!("{}{suffix}", source.display());
        if Path::new(&from).exists() {
            std::fs::copy(&from, format!("{}{suffix}", path.display())).unwrap();
        }
    }
    // Fold the write-ahead log into the file, so that damage to the file is damage to data.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "key", format!("x'{}'", support::KEY_HEX))
        .unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    (path, states)
}

fn flip(path: &Path, offset: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8; 1];
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.read_exact(&mut byte).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&[byte[0] ^ 0x5a]).unwrap();
}

fn pages(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len() / PAGE
}

/// Reads every record the way the app does; the first error.
fn read_everything(path: &Path) -> Result<usize, FieldError> {
    let replica = Replica::open(path, &support::key(), support::options())?;
    replica.export()?;
    Ok(replica.all_states()?.len())
}

#[test]
fn flipped_bytes_are_a_clear_damaged_file_error_never_wrong_data() {
    let dir = tempfile::tempdir().unwrap();
    let (path, states) = seeded_file(dir.path());
    assert_eq!(read_everything(&path).unwrap(), states.len());
    assert!(check(&path, &support::key()).unwrap().is_empty(), "intact");

    // One byte in a page in the middle of the records.
    flip(&path, pages(&path) / 2 * PAGE + 700);
    let err = read_everything(&path).unwrap_err();
    assert!(matches!(err, FieldError::FileDamaged(_)), "{err:?}");
    assert!(err.to_string().contains("cageur-admin salvage"), "{err}");
    assert!(!check(&path, &support::key()).unwrap().is_empty());
}

#[test]
fn a_file_cut_short_is_refused_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = seeded_file(dir.path());
    for keep in [pages(&path) * 2 / 3 * PAGE, pages(&path) / 2 * PAGE + 1234] {
        let cut = dir.path().join(format!("cut-{keep}.db"));
        std::fs::copy(&path, &cut).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&cut)
            .unwrap()
            .set_len(keep)
            .unwrap();
        let err = read_everything(&cut).unwrap_err();
        assert!(matches!(err, FieldError::FileDamaged(_)), "{keep}: {err:?}");
    }
}

#[test]
fn the_first_page_damaged_or_the_wrong_key_is_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = seeded_file(dir.path());
    let wrong = DatabaseKey::from_secret("another tablet's key");
    let err = rescue(&path, &wrong).unwrap_err();
    assert!(matches!(err, FieldError::WrongKey), "{err:?}");
    flip(&path, 100);
    let err = Replica::open(&path, &support::key(), support::options()).unwrap_err();
    assert!(matches!(err, FieldError::WrongKey), "{err:?}");
}

#[test]
fn the_rescue_reads_back_every_intact_record_exactly_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (path, states) = seeded_file(dir.path());
    let intact = rescue(&path, &support::key()).unwrap();
    assert_eq!(intact.damaged_reads, 0);
    assert_eq!(intact.records.len(), states.len());
    assert_eq!(intact.device.as_ref().map(|d| d.number), Some(3));

    // Three damaged pages, far apart in the records.
    let n = pages(&path);
    for page in [n / 4, n / 2, n * 3 / 4] {
        flip(&path, page * PAGE + 2000);
    }
    let rescued = rescue(&path, &support::key()).unwrap();
    assert!(rescued.damaged_reads > 0);
    for record in &rescued.records {
        assert_eq!(
            Some(&record.state),
            states.get(&record.id),
            "{} came back as it was stored",
            record.id
        );
    }
    let lost = states.len() - rescued.records.len();
    // A page holds a dozen records at most: three pages lose a few dozen, never the rest.
    assert!(
        lost > 0 && lost <= 60,
        "{lost} of {} records lost to three damaged pages",
        states.len()
    );
    assert_eq!(rescued.device.as_ref().map(|d| d.number), Some(3));
}

/// A tablet that was never updated has the five record tables of the first schema: the
/// rescue reads them as they are (it never migrates a damaged file) and finds every record.
#[test]
fn the_rescue_reads_a_file_of_the_first_schema_whole() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/device-v1.db");
    let (old, upgraded) = (dir.path().join("old.db"), dir.path().join("upgraded.db"));
    std::fs::copy(fixture, &old).unwrap();
    std::fs::copy(fixture, &upgraded).unwrap();

    let rescued = rescue(&old, &support::key()).unwrap();
    assert_eq!(rescued.damaged_reads, 0);
    let expected: Vec<_> = Replica::open(&upgraded, &support::key(), support::options())
        .unwrap()
        .all_states()
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, r.id, r.state))
        .collect();
    let found: Vec<_> = rescued
        .records
        .into_iter()
        .map(|r| (r.kind, r.id, r.state))
        .collect();
    assert!(expected.len() > 100, "the fixture holds {}", expected.len());
    assert_eq!(found, expected);
}
