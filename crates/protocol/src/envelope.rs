//! The versioned binary form of a [`RecordState`], as stored on devices and server and sent
//! between them.
//!
//! Layout: one format byte ([`FORMAT_V1`]), then the state as postcard. The derived serde
//! format of `crdts` is not promised stable between its releases, so the payload is defined by
//! our own mirror types ([`MapV1`] and friends), which serialize to exactly the bytes of
//! `crdts` 7.3.2's types (golden-byte tests pin both). If a future `crdts` changes its format,
//! decoding still goes through the mirror, and a new format byte marks the new layout.
//!
//! Encoding is canonical: the values of each multi-value register are sorted, so two replicas
//! that hold the same state produce the same bytes, whatever order merges happened in (digests
//! of states can then be compared to verify replicas).

use std::collections::{BTreeMap, BTreeSet};

use cageur_model::{FieldKey, Value};
use serde::{Deserialize, Serialize};

use crate::DeviceNumber;
use crate::cell::Cell;
use crate::record::{FieldCrdt, RecordState};

/// Format byte of the first layout.
pub const FORMAT_V1: u8 = 1;

/// Largest encoded state accepted: a visit with every screening of a family of eight is a few
/// KB; anything near this limit is damage or abuse.
pub const MAX_STATE_BYTES: usize = 256 * 1024;

/// Why bytes could not be read as a record state.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("record state is empty")]
    Empty,
    #[error("record state is {0} bytes; at most {MAX_STATE_BYTES} are accepted")]
    TooLarge(usize),
    #[error("record state has format {0}, which this version does not know; update the app")]
    UnknownFormat(u8),
    #[error("record state is malformed: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct VClockV1 {
    dots: BTreeMap<DeviceNumber, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RegisterV1 {
    vals: Vec<(VClockV1, Cell)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct EntryV1 {
    clock: VClockV1,
    val: RegisterV1,
}

/// Mirror of `crdts::Map<FieldKey, MVReg<Cell, u32>, u32>` 7.3.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct MapV1 {
    clock: VClockV1,
    entries: BTreeMap<FieldKey, EntryV1>,
    /// Pending removes. Always empty: records are never removed with `Map::rm`.
    deferred: Vec<(VClockV1, BTreeSet<FieldKey>)>,
}

impl RecordState {
    /// The canonical envelope bytes of this state.
    pub fn encode(&self) -> Vec<u8> {
        let mut mirror = to_mirror(&self.map);
        for entry in mirror.entries.values_mut() {
            entry.val.vals.sort();
        }
        let mut out = vec![FORMAT_V1];
        // Serializing owned, in-memory data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(&mirror).expect("encoding a record state to memory"));
        out
    }

    /// Reads envelope bytes; checks the format byte, the size, that nothing trails the state
    /// and that the state holds only what this code writes.
    pub fn decode(bytes: &[u8]) -> Result<RecordState, EnvelopeError> {
        let (&format, payload) = bytes.split_first().ok_or(EnvelopeError::Empty)?;
        if bytes.len() > MAX_STATE_BYTES {
            return Err(EnvelopeError::TooLarge(bytes.len()));
        }
        if format != FORMAT_V1 {
            return Err(EnvelopeError::UnknownFormat(format));
        }
        let (mirror, rest): (MapV1, _) = postcard::take_from_bytes(payload)
            .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(EnvelopeError::Malformed(format!(
                "{} bytes after the state",
                rest.len()
            )));
        }
        check(&mirror)?;
        Ok(RecordState {
            map: from_mirror(&mirror)?,
        })
    }
}

/// The invariants our writes keep; a state that breaks one was not made by this code.
fn check(mirror: &MapV1) -> Result<(), EnvelopeError> {
    let malformed = |what: &str| Err(EnvelopeError::Malformed(what.to_owned()));
    if !mirror.deferred.is_empty() {
        return malformed("pending removes are never written");
    }
    for entry in mirror.entries.values() {
        if entry.val.vals.is_empty() {
            return malformed("a field has no value");
        }
        if !dominated(&entry.clock, &mirror.clock) {
            return malformed("a field's clock is ahead of its record's");
        }
        for (clock, cell) in &entry.val.vals {
            if !dominated(clock, &mirror.clock) {
                return malformed("a value's clock is ahead of its record's");
            }
            if let Value::Codes(codes) = &cell.value
                && codes.windows(2).any(|w| w[0] >= w[1])
            {
                return malformed("a set of choices is not sorted and unique");
            }
        }
    }
    Ok(())
}

fn dominated(small: &VClockV1, big: &VClockV1) -> bool {
    small
        .dots
        .iter()
        .all(|(actor, counter)| big.dots.get(actor).is_some_and(|c| c >= counter))
}

/// `crdts`' state as the mirror: both serialize to the same postcard bytes.
fn to_mirror(map: &FieldCrdt) -> MapV1 {
    let bytes = postcard::to_allocvec(map).expect("encoding a record state to memory");
    postcard::from_bytes(&bytes).expect("the mirror types match crdts 7.3.2's serde layout")
}

fn from_mirror(mirror: &MapV1) -> Result<FieldCrdt, EnvelopeError> {
    let bytes = postcard::to_allocvec(mirror).expect("encoding a record state to memory");
    postcard::from_bytes(&bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))
}
