//! [`RecordState`]: one record as a CRDT, so that any number of devices can edit it offline and
//! always converge.
//!
//! The state is a record clock (`crdts::VClock`) and, per field number, a multi-value register
//! (`crdts::MVReg`) of [`Cell`]s, keyed by the device (actor) that wrote it:
//! - concurrent edits to *different* fields touch different registers, so both survive;
//! - concurrent edits to the *same* field leave several values in its register: a conflict
//!   that a person resolves by writing a value that has seen them all (the resolution syncs
//!   like any edit); until then every replica shows the same value, chosen by
//!   [`Cell`]'s display order;
//! - removal is a tombstone field ([`FieldKey::DELETED`]): fields are never removed.
//!
//! Why not `crdts::Map`: its state merge applies reset-remove to the values of a field that the
//! other state lacks, trimming their clocks; an older state arriving later then resurrects an
//! overwritten value, and merge is neither idempotent nor associative (found by our property
//! tests). With no removal, the record is simply a product of registers: merging is merging
//! each register and the clock, which is commutative, associative and idempotent.
//!
//! Replicas exchange and merge whole states, never ops: an op that arrives out of order would
//! need sequencing of its own, while states can arrive in any order, any number of times.

use std::collections::BTreeMap;

use cageur_model::{FieldKey, FieldMap, Value};
use crdts::ctx::AddCtx;
use crdts::{CmRDT, CvRDT, MVReg, VClock};

use crate::DeviceNumber;
use crate::cell::{Author, Cell};
use crate::envelope::RecordClock;

pub(crate) type Register = MVReg<Cell, DeviceNumber>;

/// One record's replicated state.
#[derive(Debug, Clone, Default)]
pub struct RecordState {
    /// Every write this state has seen, as (device, counter) dots.
    pub(crate) clock: VClock<DeviceNumber>,
    /// Each field's register. Every value's clock is dominated by `clock`.
    pub(crate) fields: BTreeMap<FieldKey, Register>,
}

/// A field's value as a replica shows it, and the concurrent values still in conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldState {
    /// The value shown: settled by the [`SettlePolicy`] or chosen by display order.
    pub shown: Cell,
    /// Every distinct concurrent value when they conflict (shown first), empty otherwise.
    pub conflict: Vec<Cell>,
}

/// What a replica derives a record's query columns from: every field's shown value, and how
/// many fields wait for a person to choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Every field's shown value, as [`RecordState::shown`] gives them.
    pub shown: FieldMap,
    /// Fields in conflict, as [`RecordState::conflicts`] counts them.
    pub conflicts: usize,
}

impl Summary {
    /// The summary of every field's concurrent cells. A register with one value, nearly all
    /// of them, takes the short way: its value, with no ordering to do.
    ///
    /// Registers come in field order, and their cells are only gathered when there are two or
    /// more: this runs for every record a bootstrap brings.
    pub(crate) fn of<C: ExactSizeIterator<Item = Cell>>(
        registers: impl Iterator<Item = (FieldKey, C)>,
        policy: &dyn SettlePolicy,
    ) -> Summary {
        let mut conflicts = 0;
        let mut shown = Vec::with_capacity(registers.size_hint().0);
        for (key, mut cells) in registers {
            let value = if cells.len() == 1 {
                cells.next().map(|cell| cell.value)
            } else {
                field_state(key, sort_cells(cells.collect()), policy).map(|field| {
                    conflicts += usize::from(!field.conflict.is_empty());
                    field.shown.value
                })
            };
            if let Some(value) = value {
                shown.push((key, value));
            }
        }
        debug_assert!(shown.is_sorted_by(|a, b| a.0 < b.0));
        // From a vector sorted by key, the map is built in one pass.
        Summary {
            shown: shown.into_iter().collect(),
            conflicts,
        }
    }

    /// Whether the tombstone is set.
    pub fn is_deleted(&self) -> bool {
        self.shown.get(&FieldKey::DELETED) == Some(&Value::Bool(true))
    }
}

/// A field whose concurrent values wait for a person to choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The field whose register holds two or more concurrent values.
    pub field: FieldKey,
    /// The candidates, the shown one first, then in display order.
    pub values: Vec<Cell>,
}

/// Field semantics that settle some concurrent values without a person: a referral's status
/// only moves forward, so `sent` and `arrived` written concurrently settle on `arrived`.
pub trait SettlePolicy {
    /// The value to show for `field` when `candidates` (two or more distinct values) are
    /// concurrent, or `None` if a person must choose.
    fn settle(&self, field: FieldKey, candidates: &[&Value]) -> Option<Value>;
}

/// Settles nothing: every same-field concurrency is a conflict.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSettling;

impl SettlePolicy for NoSettling {
    fn settle(&self, _field: FieldKey, _candidates: &[&Value]) -> Option<Value> {
        None
    }
}

impl RecordState {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the given fields as `author`, skipping any whose shown value is already equal
    /// (so an unchanged field neither grows the state nor resolves a conflict by accident),
    /// and any `Null` for a field never written. Returns how many fields were written.
    ///
    /// One write is one dot of the author's device, shared by every field it writes: each
    /// value's clock is the record clock after that dot, so the values of one write carry one
    /// stamp, which the envelope keeps once (the first format gave every field a dot of its
    /// own, to no purpose: fields are registers of their own, and a value's clock only has to
    /// cover what was seen when it was written).
    pub fn write<I>(&mut self, author: Author, fields: I) -> usize
    where
        I: IntoIterator<Item = (FieldKey, Value)>,
    {
        let lamport = self.next_lamport();
        let mut dot = None;
        let mut written = 0;
        for (key, value) in fields {
            match self.shown_value(key) {
                Some(shown) if shown == value => continue,
                None if value.is_null() => continue,
                _ => {}
            }
            let dot = *dot.get_or_insert_with(|| self.next_dot(author.device));
            self.put(key, Cell::new(value, lamport, author), dot);
            written += 1;
        }
        written
    }

    /// Writes `value` into `field` even if it is already shown: the new value has seen every
    /// concurrent one, so it ends the field's conflict on every replica that merges it.
    pub fn resolve(&mut self, author: Author, field: FieldKey, value: Value) {
        let lamport = self.next_lamport();
        let dot = self.next_dot(author.device);
        self.put(field, Cell::new(value, lamport, author), dot);
    }

    /// Takes the next dot of `device` into the record clock.
    fn next_dot(&mut self, device: DeviceNumber) -> crdts::Dot<DeviceNumber> {
        let dot = self.clock.inc(device);
        self.clock.apply(dot);
        dot
    }

    /// Writes `cell` at `dot` (already in the record clock): the value's clock is the whole
    /// record clock, so it supersedes every value this state holds for the field.
    fn put(&mut self, key: FieldKey, cell: Cell, dot: crdts::Dot<DeviceNumber>) {
        debug_assert_eq!(self.clock.get(&dot.actor), dot.counter);
        let ctx = AddCtx {
            clock: self.clock.clone(),
            dot,
        };
        let register = self.fields.entry(key).or_default();
        let op = register.write(cell, ctx);
        register.apply(op);
        debug_assert_eq!(register.read().val.len(), 1);
    }

    /// Merges another replica's state of the same record into this one.
    pub fn merge(&mut self, other: RecordState) {
        for (key, register) in other.fields {
            match self.fields.get_mut(&key) {
                Some(mine) => mine.merge(register),
                None => {
                    self.fields.insert(key, register);
                }
            }
        }
        self.clock.merge(other.clock);
    }

    /// One above every stamp in the record.
    fn next_lamport(&self) -> u32 {
        self.registers()
            .values()
            .flatten()
            .map(|c| c.lamport)
            .max()
            .map_or(1, |m| m.saturating_add(1))
    }

    /// Every field's concurrent cells, each list sorted greatest display order first and
    /// without duplicates.
    fn registers(&self) -> BTreeMap<FieldKey, Vec<Cell>> {
        self.fields
            .iter()
            .map(|(key, reg)| (*key, sorted_cells(reg)))
            .collect()
    }

    fn shown_value(&self, key: FieldKey) -> Option<Value> {
        self.field(key, &NoSettling).map(|f| f.shown.value)
    }

    /// The state of one field, or `None` if it was never written.
    pub fn field(&self, key: FieldKey, policy: &dyn SettlePolicy) -> Option<FieldState> {
        let reg = self.fields.get(&key)?;
        field_state(key, sorted_cells(reg), policy)
    }

    /// Every field as shown to the user.
    pub fn fields(&self, policy: &dyn SettlePolicy) -> BTreeMap<FieldKey, FieldState> {
        self.registers()
            .into_iter()
            .filter_map(|(key, cells)| Some((key, field_state(key, cells, policy)?)))
            .collect()
    }

    /// Every field's shown value.
    pub fn shown(&self, policy: &dyn SettlePolicy) -> FieldMap {
        self.summary(policy).shown
    }

    /// The shown values and the number of fields in conflict, in one pass: on every save of
    /// every record.
    pub fn summary(&self, policy: &dyn SettlePolicy) -> Summary {
        Summary::of(
            self.fields
                .iter()
                .map(|(key, register)| (*key, register.read().val.into_iter())),
            policy,
        )
    }

    /// The fields in conflict, in field order.
    pub fn conflicts(&self, policy: &dyn SettlePolicy) -> Vec<Conflict> {
        self.fields
            .iter()
            .filter_map(|(key, register)| {
                let cells = register.read().val;
                if cells.len() < 2 {
                    return None;
                }
                let state = field_state(*key, sort_cells(cells), policy)?;
                (!state.conflict.is_empty()).then_some(Conflict {
                    field: *key,
                    values: state.conflict,
                })
            })
            .collect()
    }

    /// Whether the tombstone is set.
    pub fn is_deleted(&self) -> bool {
        self.shown_value(FieldKey::DELETED) == Some(Value::Bool(true))
    }

    /// The devices that have written to this record.
    pub fn writers(&self) -> Vec<DeviceNumber> {
        self.clock.dots.keys().copied().collect()
    }

    /// Whether this state already contains everything in `other` (merging it would change
    /// nothing): how a receiver tells a new state from one it has seen.
    pub fn contains(&self, other: &RecordState) -> bool {
        self.clock >= other.clock
    }

    /// Which writes this state holds.
    pub fn clock(&self) -> RecordClock {
        RecordClock(self.clock.clone())
    }

    /// What a replica that holds the writes `known` lacks of this state: every field with a
    /// write `known` does not cover (its whole register), and the whole record clock. Merged
    /// into that replica's state it gives exactly what merging this whole state would: a
    /// field left out has no write the replica lacks, and registers merge field by field.
    pub fn delta_since(&self, known: &RecordClock) -> RecordState {
        RecordState {
            clock: self.clock.clone(),
            fields: self
                .fields
                .iter()
                // Left out only if `known` covers every write of the register.
                .filter(|(_, register)| {
                    !matches!(
                        register.read().add_clock.partial_cmp(&known.0),
                        Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
                    )
                })
                .map(|(key, register)| (*key, register.clone()))
                .collect(),
        }
    }
}

/// A register's cells, greatest display order first, without duplicates.
fn sorted_cells(reg: &Register) -> Vec<Cell> {
    sort_cells(reg.read().val)
}

/// `cells` in display order, greatest first, without duplicates.
fn sort_cells(mut cells: Vec<Cell>) -> Vec<Cell> {
    cells.sort_by(|a, b| b.display_key().cmp(&a.display_key()));
    cells.dedup();
    cells
}

fn field_state(key: FieldKey, cells: Vec<Cell>, policy: &dyn SettlePolicy) -> Option<FieldState> {
    let first = cells.first()?.clone();
    let distinct: Vec<&Value> = {
        let mut values: Vec<&Value> = cells.iter().map(|c| &c.value).collect();
        values.sort();
        values.dedup();
        values
    };
    if distinct.len() < 2 {
        return Some(FieldState {
            shown: first,
            conflict: Vec::new(),
        });
    }
    if let Some(settled) = policy.settle(key, &distinct)
        && let Some(cell) = cells.iter().find(|c| c.value == settled)
    {
        return Some(FieldState {
            shown: cell.clone(),
            conflict: Vec::new(),
        });
    }
    // Several cells may carry the same value; show each value once, by its greatest cell.
    let mut seen: Vec<&Value> = Vec::new();
    let conflict: Vec<Cell> = cells
        .iter()
        .filter(|c| {
            if seen.contains(&&c.value) {
                false
            } else {
                seen.push(&c.value);
                true
            }
        })
        .cloned()
        .collect();
    Some(FieldState {
        shown: first,
        conflict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cageur_model::Role;

    fn author(device: DeviceNumber) -> Author {
        Author {
            device,
            worker: device * 10,
            role: Role::Nurse,
        }
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    const NAME: FieldKey = FieldKey(10);
    const STREET: FieldKey = FieldKey(11);

    fn shared_base() -> RecordState {
        let mut base = RecordState::new();
        base.write(
            author(1),
            [(NAME, text("Siti")), (STREET, text("Jl. Melati"))],
        );
        base
    }

    #[test]
    fn concurrent_edits_to_different_fields_both_survive() {
        let base = shared_base();
        let (mut a, mut b) = (base.clone(), base);
        a.write(author(1), [(NAME, text("Siti Aminah"))]);
        b.write(author(2), [(STREET, text("Jl. Mawar 3"))]);
        a.merge(b);
        let shown = a.shown(&NoSettling);
        assert_eq!(shown[&NAME], text("Siti Aminah"));
        assert_eq!(shown[&STREET], text("Jl. Mawar 3"));
        assert!(a.conflicts(&NoSettling).is_empty());
    }

    #[test]
    fn concurrent_edits_to_one_field_conflict_until_resolved() {
        let base = shared_base();
        let (mut a, mut b) = (base.clone(), base);
        a.write(author(1), [(NAME, text("Siti A."))]);
        b.write(author(2), [(NAME, text("Siti B."))]);
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b.clone();
        ba.merge(a.clone());

        let conflicts = ab.conflicts(&NoSettling);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].field, NAME);
        let values: Vec<_> = conflicts[0]
            .values
            .iter()
            .map(|c| c.value.clone())
            .collect();
        assert!(values.contains(&text("Siti A.")) && values.contains(&text("Siti B.")));
        // Both replicas show the same value while the conflict lasts.
        assert_eq!(ab.shown(&NoSettling), ba.shown(&NoSettling));

        // A person resolves it on one device; the resolution reaches the other.
        ab.resolve(author(3), NAME, text("Siti Aminah"));
        assert!(ab.conflicts(&NoSettling).is_empty());
        ba.merge(ab.clone());
        assert!(ba.conflicts(&NoSettling).is_empty());
        assert_eq!(ba.shown(&NoSettling)[&NAME], text("Siti Aminah"));
        assert_eq!(ba.encode(), ab.encode());
    }

    #[test]
    fn rewriting_the_shown_value_does_not_resolve_a_conflict() {
        let base = shared_base();
        let (mut a, mut b) = (base.clone(), base);
        a.write(author(1), [(NAME, text("A"))]);
        b.write(author(2), [(NAME, text("B"))]);
        a.merge(b);
        let shown = a.shown(&NoSettling)[&NAME].clone();
        assert_eq!(a.write(author(1), [(NAME, shown)]), 0);
        assert_eq!(a.conflicts(&NoSettling).len(), 1);
    }

    #[test]
    fn tombstone_survives_a_concurrent_edit() {
        let base = shared_base();
        let (mut a, mut b) = (base.clone(), base);
        a.write(author(1), [(FieldKey::DELETED, Value::Bool(true))]);
        b.write(author(2), [(STREET, text("Jl. Kenanga"))]);
        b.merge(a);
        assert!(b.is_deleted());
        // The concurrent edit is kept too: nothing recorded is lost.
        assert_eq!(b.shown(&NoSettling)[&STREET], text("Jl. Kenanga"));
    }

    struct MaxWins;
    impl SettlePolicy for MaxWins {
        fn settle(&self, _: FieldKey, candidates: &[&Value]) -> Option<Value> {
            candidates.iter().max().map(|v| (*v).clone())
        }
    }

    #[test]
    fn a_settle_policy_hides_conflicts_it_can_decide() {
        let base = shared_base();
        let (mut a, mut b) = (base.clone(), base);
        a.write(author(1), [(NAME, Value::Int(2))]);
        b.write(author(2), [(NAME, Value::Int(3))]);
        a.merge(b);
        assert!(a.conflicts(&MaxWins).is_empty());
        assert_eq!(a.shown(&MaxWins)[&NAME], Value::Int(3));
        assert_eq!(a.conflicts(&NoSettling).len(), 1);
    }

    #[test]
    fn a_later_write_is_shown_over_an_earlier_one_it_saw() {
        let mut a = shared_base();
        let mut b = a.clone();
        b.write(author(2), [(NAME, text("second"))]);
        a.merge(b);
        assert_eq!(a.shown(&NoSettling)[&NAME], text("second"));
        assert!(a.contains(&shared_base()));
        assert!(!shared_base().contains(&a));
    }
}
