//! What the crate's own unit tests share: a fresh replica with a health worker signed in.

use std::path::Path;

use cageur_model::{Household, Role};
use serde_json::json;

use crate::store::Durability;
use crate::{DatabaseKey, DeviceInfo, FixedClock, OpenOptions, Replica, Worker};

/// A new replica at `path`, device `number` of team CPD-01 of puskesmas P3671050101, its
/// clock fixed at 2026-11-23 10:00 (+07:00), with midwife `400 + number` signed in.
pub(crate) fn replica(path: &Path, number: u32) -> Replica {
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00+07:00").unwrap();
    let info = DeviceInfo {
        number,
        puskesmas: Some("P3671050101".into()),
        team: Some("CPD-01".into()),
    };
    let options = OpenOptions {
        durability: Durability::Normal,
        clock: Box::new(FixedClock(now)),
    };
    let key = DatabaseKey::from_secret("unit-test");
    let mut replica = Replica::init(path, &key, info, options).unwrap();
    replica
        .set_worker(&Worker {
            id: 400 + number,
            name: "Bidan Euis".into(),
            role: Role::Midwife,
        })
        .unwrap();
    replica
}

/// The Suryadi family of Jl. Melati No. 12, Cipondoh Indah (KK 3671051203150007).
pub(crate) fn household() -> Household {
    cageur_model::json::from_value(json!({
        "kk": "3671051203150007", "head_name": "Ahmad Suryadi",
        "address": {"street": "Jl. Melati No. 12", "rt": 3, "rw": 5,
                    "kelurahan": "Cipondoh Indah", "kecamatan": "cipondoh"},
        "puskesmas": "P3671050101"
    }))
    .unwrap()
}
