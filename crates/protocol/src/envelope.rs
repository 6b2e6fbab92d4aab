//! The versioned binary form of a [`RecordState`], as stored on devices and server and sent
//! between them.
//!
//! Layout: one format byte ([`FORMAT_V1`]), then the state as postcard: the record clock, then
//! each field's register. The derived serde format of `crdts` is not promised stable between
//! its releases, so the payload is defined by our own mirror types (`RecordV1` and friends);
//! each register is carried through `crdts`' serde form, which golden-byte tests pin. If a
//! future `crdts` changes that form, decoding still goes through the mirror, and a new format
//! byte marks any new layout.
//!
//! Encoding is canonical: the values of each multi-value register are sorted, so two replicas
//! that hold the same state produce the same bytes, whatever order merges happened in (digests
//! of states can then be compared to verify replicas).

use std::collections::BTreeMap;

use cageur_model::{FieldKey, FieldMap, Value};
use serde::{Deserialize, Serialize};

use crate::DeviceNumber;
use crate::cell::{Author, Cell};
use crate::record::{RecordState, Register, SettlePolicy, Summary};

/// Format byte of the first layout.
pub const FORMAT_V1: u8 = 1;

/// Largest clock counter accepted: far above any real count of writes (a device writing a
/// record every millisecond for a century stays below 2^42), and far from `u64::MAX`, where
/// incrementing would overflow.
pub const MAX_COUNTER: u64 = 1 << 48;

/// Largest encoded state accepted: a visit with every screening of a family of eight is a few
/// KB; anything near this limit is damage or abuse.
pub const MAX_STATE_BYTES: usize = 256 * 1024;

/// Why bytes could not be read as a record state.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// No bytes at all, not even the format byte.
    #[error("record state is empty")]
    Empty,
    /// Longer than [`MAX_STATE_BYTES`] (the length is carried); refused before parsing.
    #[error("record state is {0} bytes; at most {MAX_STATE_BYTES} are accepted")]
    TooLarge(usize),
    /// A format byte this version does not know (carried), likely written by a newer app.
    #[error("record state has format {0}, which this version does not know; update the app")]
    UnknownFormat(u8),
    /// The payload does not parse, has bytes after it, or breaks an invariant our writes keep.
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

/// A record: its clock, then each field's register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RecordV1 {
    clock: VClockV1,
    fields: BTreeMap<FieldKey, RegisterV1>,
}

impl RecordState {
    /// The canonical envelope bytes of this state.
    ///
    /// Written piece by piece (postcard is concatenative: a struct is its fields in order, a
    /// map its length then its entries), so that a register with one value, nearly all of
    /// them, is written straight from its own serde form, which is the mirror's; only a
    /// register with several values goes through the mirror to sort them. The golden-byte
    /// tests pin that both ways give the mirror's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_V1];
        // `VClock` serializes as its mirror `VClockV1` does: a struct of one map.
        out = postcard::to_extend(&self.clock, out).expect("encoding a clock to memory");
        out = postcard::to_extend(&self.fields.len(), out).expect("encoding a length to memory");
        for (key, register) in &self.fields {
            out = postcard::to_extend(key, out).expect("encoding a field key to memory");
            let bytes = postcard::to_allocvec(register).expect("encoding a register to memory");
            // The register's first byte is its number of values (a varint): 1 needs no sorting.
            if bytes.first() == Some(&1) {
                out.extend_from_slice(&bytes);
            } else {
                let mut mirror: RegisterV1 = postcard::from_bytes(&bytes)
                    .expect("the mirror types match crdts 7.3.2's serde layout");
                mirror.vals.sort();
                out = postcard::to_extend(&mirror, out).expect("encoding a register to memory");
            }
        }
        out
    }

    /// The envelope bytes of `RecordState::new()` after `write(author, fields)`, written
    /// straight from the fields, with no CRDT built: a new record is every field written
    /// once by one author, so each field's register holds one value whose clock is the
    /// record's own dot at the moment it was written (fields in key order, `Null`s skipped)
    /// and every value has the first Lamport stamp. `None` when every field is `Null`
    /// (nothing would be written). A property test pins these bytes to the CRDT path's.
    ///
    /// Recording a visit creates a record with a hundred fields or more; building it as
    /// registers, then summarising and encoding them, cost more than the SQL that stores it.
    pub fn encode_new(author: Author, fields: &FieldMap) -> Option<Vec<u8>> {
        /// [`Cell`]'s serde form, borrowing the value.
        #[derive(Serialize)]
        struct CellRef<'a> {
            value: &'a Value,
            lamport: u32,
            device: DeviceNumber,
            worker: u32,
            role: u8,
        }
        let written = fields.values().filter(|v| !v.is_null()).count();
        if written == 0 {
            return None;
        }
        let dots = |counter: u64| VClockV1 {
            dots: BTreeMap::from([(author.device, counter)]),
        };
        let mut out = vec![FORMAT_V1];
        let encoding = "encoding a new record to memory";
        out = postcard::to_extend(&dots(written as u64), out).expect(encoding);
        out = postcard::to_extend(&written, out).expect(encoding);
        let live = fields.iter().filter(|(_, v)| !v.is_null());
        for (counter, (key, value)) in (1u64..).zip(live) {
            let cell = CellRef {
                value,
                lamport: 1,
                device: author.device,
                worker: author.worker,
                role: author.role.code(),
            };
            out = postcard::to_extend(key, out).expect(encoding);
            // A register: its values as a sequence of (clock, cell), here exactly one.
            out = postcard::to_extend(&[(dots(counter), cell)][..], out).expect(encoding);
        }
        Some(out)
    }

    /// Reads envelope bytes; checks the format byte, the size, that nothing trails the state
    /// and that the state holds only what this code writes.
    pub fn decode(bytes: &[u8]) -> Result<RecordState, EnvelopeError> {
        DecodedState::read(bytes)?.into_state()
    }
}

/// A state read from its envelope bytes and checked, before its registers are built as CRDTs.
///
/// A record a replica does not hold yet (every record of a bootstrap) needs no merge: only
/// its shown values, for the query columns, and its bytes, stored as they came. Reading that
/// much costs a fraction of building the state (each register is otherwise carried through
/// `crdts`' serde form a second time) and of cloning every value out of it again to show it.
#[derive(Debug, Clone)]
pub struct DecodedState {
    mirror: RecordV1,
}

impl DecodedState {
    /// Reads envelope bytes with every check of [`RecordState::decode`].
    pub fn read(bytes: &[u8]) -> Result<DecodedState, EnvelopeError> {
        let (&format, payload) = bytes.split_first().ok_or(EnvelopeError::Empty)?;
        if bytes.len() > MAX_STATE_BYTES {
            return Err(EnvelopeError::TooLarge(bytes.len()));
        }
        if format != FORMAT_V1 {
            return Err(EnvelopeError::UnknownFormat(format));
        }
        let (mirror, rest): (RecordV1, _) = postcard::take_from_bytes(payload)
            .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(EnvelopeError::Malformed(format!(
                "{} bytes after the state",
                rest.len()
            )));
        }
        check(&mirror)?;
        Ok(DecodedState { mirror })
    }

    /// The state as CRDTs, to merge.
    pub fn into_state(self) -> Result<RecordState, EnvelopeError> {
        let mut fields = BTreeMap::new();
        for (key, register) in &self.mirror.fields {
            fields.insert(*key, from_mirror(register)?);
        }
        Ok(RecordState {
            clock: crdts::VClock {
                dots: self.mirror.clock.dots,
            },
            fields,
        })
    }

    /// Whether the bytes this was read from are [`RecordState::encode`]'s (every register's
    /// values in canonical order), so that storing them as they came keeps a replica's bytes,
    /// and so its digests, equal to every other replica's.
    pub fn is_canonical(&self) -> bool {
        self.mirror.fields.values().all(|r| r.vals.is_sorted())
    }

    /// What [`RecordState::summary`] gives for this state, moving the values out rather
    /// than cloning them.
    pub fn into_summary(self, policy: &dyn SettlePolicy) -> Summary {
        Summary::of(
            self.mirror.fields.into_iter().map(|(key, register)| {
                (
                    key,
                    register.vals.into_iter().map(|(_, cell)| cell).collect(),
                )
            }),
            policy,
        )
    }
}

/// The invariants our writes keep; a state that breaks one was not made by this code.
fn check(mirror: &RecordV1) -> Result<(), EnvelopeError> {
    let malformed = |what: &str| Err(EnvelopeError::Malformed(what.to_owned()));
    if mirror
        .clock
        .dots
        .values()
        .any(|c| *c == 0 || *c > MAX_COUNTER)
    {
        return malformed("a clock counter is zero or implausibly large");
    }
    for register in mirror.fields.values() {
        if register.vals.is_empty() {
            return malformed("a field has no value");
        }
        for (i, (clock, cell)) in register.vals.iter().enumerate() {
            if clock.dots.is_empty() || !dominated(clock, &mirror.clock) {
                return malformed("a value's clock is empty or ahead of its record's");
            }
            // Values of one register are concurrent: none may dominate another.
            if register.vals[..i]
                .iter()
                .any(|(other, _)| dominated(clock, other) || dominated(other, clock))
            {
                return malformed("a field holds a value that another one supersedes");
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

/// A register from its mirror: both serialize to the same postcard bytes.
fn from_mirror(mirror: &RegisterV1) -> Result<Register, EnvelopeError> {
    let bytes = postcard::to_allocvec(mirror).expect("encoding a register to memory");
    postcard::from_bytes(&bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))
}

/// Which writes of a record a replica is known to hold: a record clock on its own, to send
/// another replica only what it lacks ([`RecordState::delta_since`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordClock(pub(crate) crdts::VClock<DeviceNumber>);

impl RecordClock {
    /// The clock's bytes: [`FORMAT_V1`], then the dots as postcard.
    pub fn encode(&self) -> Vec<u8> {
        let mirror = VClockV1 {
            dots: self.0.dots.clone(),
        };
        let mut out = vec![FORMAT_V1];
        out.extend(postcard::to_allocvec(&mirror).expect("clocks serialize to memory"));
        out
    }

    /// Reads [`RecordClock::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<RecordClock, EnvelopeError> {
        let (&format, payload) = bytes.split_first().ok_or(EnvelopeError::Empty)?;
        if format != FORMAT_V1 {
            return Err(EnvelopeError::UnknownFormat(format));
        }
        let (mirror, rest): (VClockV1, _) = postcard::take_from_bytes(payload)
            .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if !rest.is_empty() || mirror.dots.values().any(|&c| c == 0 || c > MAX_COUNTER) {
            return Err(EnvelopeError::Malformed("record clock".into()));
        }
        Ok(RecordClock(crdts::VClock { dots: mirror.dots }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::NoSettling;
    use crate::{Author, DeviceNumber};
    use cageur_model::Role;

    fn author(device: DeviceNumber) -> Author {
        Author {
            device,
            worker: device,
            role: Role::Nurse,
        }
    }

    /// A record whose field 10 holds two concurrent values.
    fn conflicted() -> RecordState {
        let mut base = RecordState::new();
        base.write(author(1), [(FieldKey(10), Value::Text("base".into()))]);
        let (mut a, mut b) = (base.clone(), base);
        a.write(author(1), [(FieldKey(10), Value::Text("a".into()))]);
        b.write(author(2), [(FieldKey(10), Value::Text("b".into()))]);
        a.merge(b);
        a
    }

    #[test]
    fn bytes_with_values_out_of_order_read_but_are_not_canonical() {
        let state = conflicted();
        let canonical = state.encode();
        let mut mirror: RecordV1 = postcard::from_bytes(&canonical[1..]).unwrap();
        let register = mirror.fields.get_mut(&FieldKey(10)).unwrap();
        assert_eq!(register.vals.len(), 2);
        register.vals.reverse();
        let mut shuffled = vec![FORMAT_V1];
        shuffled.extend(postcard::to_allocvec(&mirror).unwrap());
        assert_ne!(shuffled, canonical);

        let read = DecodedState::read(&shuffled).unwrap();
        assert!(!read.is_canonical());
        assert!(DecodedState::read(&canonical).unwrap().is_canonical());
        // The same state all the same: it encodes to the canonical bytes, and shows alike.
        assert_eq!(read.clone().into_state().unwrap().encode(), canonical);
        let summary = read.into_summary(&NoSettling);
        assert_eq!(summary, state.summary(&NoSettling));
        assert_eq!(summary.conflicts, 1);
    }
}
