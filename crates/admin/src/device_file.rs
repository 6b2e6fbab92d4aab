//! A tablet's database file, read by the admin tool: always a copy, never the original (a
//! dead tablet's file is evidence and may hold the only record of a visit).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use field_core::{DatabaseKey, OpenOptions, Replica};

/// A copy of a tablet's database (and its write-ahead log, where a dead tablet's last
/// commits often are), opened as a replica. The copy is deleted when this is dropped.
pub struct DeviceFile {
    pub replica: Replica,
    _copy: FileCopy,
}

/// The key of tablet files, from `CAGEUR_DB_KEY` (64 hex digits for a raw key, anything else
/// a passphrase), as `cageur-field` reads it.
pub fn key_from_env() -> anyhow::Result<DatabaseKey> {
    let secret =
        std::env::var("CAGEUR_DB_KEY").context("set CAGEUR_DB_KEY to the tablet database's key")?;
    if secret.trim().is_empty() {
        bail!("CAGEUR_DB_KEY is empty");
    }
    Ok(DatabaseKey::from_secret(secret.trim()))
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A copy of a tablet's files in a scratch directory, removed when dropped.
pub struct FileCopy {
    /// The copy of the database file.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl FileCopy {
    /// Copies `path` (with `-wal` and `-shm` if present) to a temporary directory.
    pub fn of(path: &Path) -> anyhow::Result<FileCopy> {
        if !path.is_file() {
            bail!("{} is not a file", path.display());
        }
        let dir = tempfile::tempdir().context("making a scratch directory")?;
        let copy = dir.path().join("device.db");
        std::fs::copy(path, &copy).with_context(|| format!("copying {}", path.display()))?;
        for suffix in ["-wal", "-shm"] {
            let from = sidecar(path, suffix);
            if from.is_file() {
                std::fs::copy(&from, sidecar(&copy, suffix))
                    .with_context(|| format!("copying {}", from.display()))?;
            }
        }
        Ok(FileCopy {
            path: copy,
            _dir: dir,
        })
    }
}

impl DeviceFile {
    /// Copies `path` (with `-wal` and `-shm` if present) to a temporary directory and opens
    /// the copy; a file of an older schema is migrated in the copy only.
    pub fn open_copy(path: &Path) -> anyhow::Result<DeviceFile> {
        let key = key_from_env()?;
        let copy = FileCopy::of(path)?;
        let replica = Replica::open(&copy.path, &key, OpenOptions::default())
            .with_context(|| format!("opening (a copy of) {}", path.display()))?;
        Ok(DeviceFile {
            replica,
            _copy: copy,
        })
    }
}
