//! Shared set-up of field-core's integration tests: real encrypted files in temp dirs.
#![allow(dead_code)]

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use field_core::model::Role;
use field_core::{DatabaseKey, DeviceInfo, Durability, FixedClock, OpenOptions, Replica, Worker};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const KEY_HEX: &str = "8f1c2a9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f00";

pub fn key() -> DatabaseKey {
    DatabaseKey::from_secret(KEY_HEX)
}

pub fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00+07:00").unwrap()
}

pub fn options() -> OpenOptions {
    OpenOptions {
        durability: Durability::Normal,
        clock: Box::new(FixedClock(now())),
    }
}

/// A device replica in its own temp dir, with a nurse working.
pub struct Device {
    pub dir: TempDir,
    pub replica: Replica,
}

impl Device {
    pub fn new(number: u32) -> Self {
        let dir = TempDir::new().unwrap();
        let info = DeviceInfo {
            number,
            puskesmas: Some("P3671050101".into()),
            team: Some("CPD-01".into()),
        };
        let mut replica =
            Replica::init(&dir.path().join("device.db"), &key(), info, options()).unwrap();
        replica
            .set_worker(&Worker {
                id: number * 100 + 1,
                name: format!("Nurse {number}"),
                role: Role::Nurse,
            })
            .unwrap();
        Self { dir, replica }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("device.db")
    }

    /// Sends every record state of this device to `other` (what a sync does, minus transport).
    pub fn send_to(&self, other: &mut Device) {
        let states = self.replica.all_states().unwrap();
        other.replica.merge_remote(states).unwrap();
    }
}

pub fn household_json() -> Value {
    json!({
        "kk": "3671051203150007",
        "head_name": "Ahmad Suryadi",
        "address": {"street": "Jl. Melati No. 12", "rt": 3, "rw": 5,
                    "kelurahan": "Cipondoh Indah", "kecamatan": "cipondoh"},
        "puskesmas": "P3671050101"
    })
}

pub fn person_json(household: uuid::Uuid) -> Value {
    json!({
        "household": household,
        "nik": "3671054702900001",
        "name": "Siti Aminah",
        "sex": "female",
        "birth_date": "1990-02-07",
        "relation": "spouse"
    })
}

pub fn parse<T: serde::de::DeserializeOwned>(value: Value) -> T {
    field_core::model::json::from_value(value).unwrap()
}
