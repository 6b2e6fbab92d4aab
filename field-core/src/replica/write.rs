//! The user actions that change records: each one validated in full, then written in one
//! transaction with its outbox entries.

use cageur_model::forms::FormRegistry;
use cageur_model::{
    Entity, FieldKey, FieldMap, FollowUp, FollowUpId, Household, HouseholdId, Person, PersonId,
    RecordKind, Referral, ReferralId, ReferralStatus, Rule, ValidationError, Value, Visit, VisitId,
};
use cageur_protocol::{Author, RecordState, Summary};
use rusqlite::Connection;
use serde::Deserialize;
use uuid::Uuid;

use super::{Replica, index};
use crate::error::{FieldError, Result};
use crate::store::{outbox, tables};

/// A visit with the referrals and follow-ups made at it: recorded atomically, or not at all.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVisit {
    /// The visit and its screenings; its device is set to this replica's.
    pub visit: Visit,
    /// Referrals made at the visit (at most 16); each is linked to the visit when written.
    #[serde(default)]
    pub referrals: Vec<Referral>,
    /// Follow-ups planned at the visit (at most 16).
    #[serde(default)]
    pub followups: Vec<FollowUp>,
}

/// The ids a recorded visit was given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordedVisit {
    /// The new visit's id.
    pub visit: VisitId,
    /// The new referrals' ids, in the order of [`NewVisit::referrals`].
    pub referrals: Vec<ReferralId>,
    /// The new follow-ups' ids, in the order of [`NewVisit::followups`].
    pub followups: Vec<FollowUpId>,
}

/// Most referrals or follow-ups one visit may create.
const MAX_PER_VISIT: usize = 16;

impl Replica {
    /// Registers a household.
    pub fn add_household(&mut self, household: &Household) -> Result<HouseholdId> {
        household.check(&self.check_context())?;
        let id = HouseholdId(self.ids.next_id());
        self.create_all(vec![(RecordKind::Household, id.0, household.to_fields())])?;
        Ok(id)
    }

    /// Registers a person in an existing household.
    pub fn add_person(&mut self, person: &Person) -> Result<PersonId> {
        person.check(&self.check_context())?;
        self.require(RecordKind::Household, person.household.0, "household")?;
        let id = PersonId(self.ids.next_id());
        self.create_all(vec![(RecordKind::Person, id.0, person.to_fields())])?;
        Ok(id)
    }

    /// Records a visit with its screenings, referrals and follow-ups in one transaction.
    pub fn record_visit(&mut self, new: NewVisit) -> Result<RecordedVisit> {
        let NewVisit {
            mut visit,
            mut referrals,
            mut followups,
        } = new;
        let ctx = self.check_context();
        visit.device = self.device.number;
        visit.check(&ctx).map_err(|e| e.within("visit"))?;
        let puskesmas = self.require_household(visit.household.0, "visit.household")?;
        let screenings = visit
            .validate_screenings(&self.forms)
            .map_err(|e| e.within("visit"))?;
        let mut people = People::members_of(&self.conn, visit.household, puskesmas.as_deref())?;
        for (i, s) in visit.screenings.iter().enumerate() {
            let person = self.person_facts(&mut people, s.person, || {
                format!("visit.screenings[{i}].person")
            })?;
            if person.household != visit.household.0 {
                let at = format!("visit.screenings[{i}].person");
                return Err(ValidationError::new(
                    at,
                    Rule::Consistency,
                    "is not a member of the visited household",
                )
                .into());
            }
            let form = self
                .forms
                .get(&s.form.id, s.form.version)
                .expect("validated above");
            if !form.applies_to.admits(
                person.sex,
                cageur_model::person::age_months(person.birth_date, ctx.today),
            ) {
                return Err(ValidationError::new(
                    format!("visit.screenings[{i}].form"),
                    Rule::Consistency,
                    format!(
                        "form {} does not apply to this person's sex and age",
                        s.form
                    ),
                )
                .into());
            }
        }
        if referrals.len() > MAX_PER_VISIT || followups.len() > MAX_PER_VISIT {
            return Err(ValidationError::new(
                "referrals",
                Rule::Range,
                format!(
                    "at most {MAX_PER_VISIT} referrals and {MAX_PER_VISIT} follow-ups per visit"
                ),
            )
            .into());
        }
        let visit_id = VisitId(self.ids.next_id());
        let mut records = Vec::new();
        // The screenings are stored in slots of their own (`screening_fields`): left in, they
        // would be serialized to JSON only for `to_fields` to drop them.
        visit.screenings.clear();
        let mut fields = visit.to_fields();
        fields.append(&mut Visit::screening_fields(&screenings));
        records.push((RecordKind::Visit, visit_id.0, fields));

        let mut referral_ids = Vec::new();
        for (i, referral) in referrals.iter_mut().enumerate() {
            referral.visit = None;
            self.prepare_referral(referral, &mut people)
                .map_err(|e| within(e, &format!("referrals[{i}]")))?;
            referral.visit = Some(visit_id);
            let id = ReferralId(self.ids.next_id());
            referral_ids.push(id);
            records.push((RecordKind::Referral, id.0, referral.to_fields()));
        }
        let mut followup_ids = Vec::new();
        for (i, followup) in followups.iter_mut().enumerate() {
            self.prepare_followup(followup, &mut people)
                .map_err(|e| within(e, &format!("followups[{i}]")))?;
            let id = FollowUpId(self.ids.next_id());
            followup_ids.push(id);
            records.push((RecordKind::FollowUp, id.0, followup.to_fields()));
        }
        self.create_all(records)?;
        Ok(RecordedVisit {
            visit: visit_id,
            referrals: referral_ids,
            followups: followup_ids,
        })
    }

    /// Refers a person (outside a visit, or to add one later).
    pub fn add_referral(&mut self, mut referral: Referral) -> Result<ReferralId> {
        self.prepare_referral(&mut referral, &mut People::default())?;
        let id = ReferralId(self.ids.next_id());
        self.create_all(vec![(RecordKind::Referral, id.0, referral.to_fields())])?;
        Ok(id)
    }

    /// Plans a follow-up of a person.
    pub fn add_followup(&mut self, mut followup: FollowUp) -> Result<FollowUpId> {
        self.prepare_followup(&mut followup, &mut People::default())?;
        let id = FollowUpId(self.ids.next_id());
        self.create_all(vec![(RecordKind::FollowUp, id.0, followup.to_fields())])?;
        Ok(id)
    }

    fn prepare_referral(&self, referral: &mut Referral, people: &mut People) -> Result<()> {
        referral.check(&self.check_context())?;
        if !matches!(
            referral.status,
            ReferralStatus::Created | ReferralStatus::Sent
        ) {
            return Err(ValidationError::new(
                "status",
                Rule::Transition,
                "a new referral is created or sent; later steps are updates",
            )
            .into());
        }
        let person = self.person_facts(people, referral.person, || "person".to_owned())?;
        referral.household = HouseholdId(person.household);
        if let Some(visit) = referral.visit {
            self.require(RecordKind::Visit, visit.0, "visit")?;
        }
        Ok(())
    }

    fn prepare_followup(&self, followup: &mut FollowUp, people: &mut People) -> Result<()> {
        followup.check(&self.check_context())?;
        let person = self.person_facts(people, followup.person, || "person".to_owned())?;
        followup.household = HouseholdId(person.household);
        if let Some(referral) = followup.referral {
            self.require(RecordKind::Referral, referral.0, "referral")?;
        }
        Ok(())
    }

    /// Edits a household; only the fields that change are written.
    pub fn update_household(
        &mut self,
        id: HouseholdId,
        edit: impl FnOnce(&mut Household) -> Result<(), ValidationError>,
    ) -> Result<bool> {
        let (_, after) = self.prepare_update::<Household>(id.0, edit)?;
        self.save_update(id.0, &after)
    }

    /// Edits a person; only the fields that change are written.
    pub fn update_person(
        &mut self,
        id: PersonId,
        edit: impl FnOnce(&mut Person) -> Result<(), ValidationError>,
    ) -> Result<bool> {
        let (before, after) = self.prepare_update::<Person>(id.0, edit)?;
        if before.household != after.household {
            // A person may move to another household that this device knows.
            self.require(RecordKind::Household, after.household.0, "household")?;
        }
        self.save_update(id.0, &after)
    }

    /// Edits a referral: its status only moves forward.
    pub fn update_referral(
        &mut self,
        id: ReferralId,
        edit: impl FnOnce(&mut Referral) -> Result<(), ValidationError>,
    ) -> Result<bool> {
        let (before, after) = self.prepare_update::<Referral>(id.0, edit)?;
        if after.person != before.person || after.household != before.household {
            return Err(ValidationError::new(
                "person",
                Rule::Consistency,
                "a referral's person cannot change",
            )
            .into());
        }
        after.check_transition(&before)?;
        self.save_update(id.0, &after)
    }

    /// Edits a follow-up (typically: done, with its outcome).
    pub fn update_followup(
        &mut self,
        id: FollowUpId,
        edit: impl FnOnce(&mut FollowUp) -> Result<(), ValidationError>,
    ) -> Result<bool> {
        let (before, after) = self.prepare_update::<FollowUp>(id.0, edit)?;
        if after.person != before.person || after.household != before.household {
            return Err(ValidationError::new(
                "person",
                Rule::Consistency,
                "a follow-up's person cannot change",
            )
            .into());
        }
        if after.referral != before.referral
            && let Some(referral) = after.referral
        {
            self.require(RecordKind::Referral, referral.0, "referral")?;
        }
        self.save_update(id.0, &after)
    }

    /// Edits any record but a visit with a JSON merge patch (RFC 7396): the patch's fields
    /// replace the record's, `null` clears an optional one. Returns the record's kind.
    pub fn update_json(&mut self, id: Uuid, patch: &serde_json::Value) -> Result<RecordKind> {
        let kind = tables::kind_of(&self.conn, id)?.ok_or(FieldError::NotFound {
            kind: RecordKind::Household,
            id,
        })?;
        match kind {
            RecordKind::Household => {
                self.update_household(HouseholdId(id), |h| apply_patch(h, patch))?
            }
            RecordKind::Person => self.update_person(PersonId(id), |p| apply_patch(p, patch))?,
            RecordKind::Referral => {
                self.update_referral(ReferralId(id), |r| apply_patch(r, patch))?
            }
            RecordKind::FollowUp => {
                self.update_followup(FollowUpId(id), |f| apply_patch(f, patch))?
            }
            RecordKind::Visit => {
                return Err(ValidationError::new(
                    "",
                    Rule::Consistency,
                    "a visit is recorded once: remove it and record it again",
                )
                .into());
            }
        };
        Ok(kind)
    }

    /// Removes a record (a tombstone that syncs like any edit). Returns its kind.
    pub fn remove(&mut self, id: Uuid) -> Result<RecordKind> {
        let kind = tables::kind_of(&self.conn, id)?.ok_or(FieldError::NotFound {
            kind: RecordKind::Household,
            id,
        })?;
        self.check_record_here(kind, id)?;
        let mut fields = FieldMap::new();
        fields.insert(FieldKey::DELETED, Value::Bool(true));
        self.write_all(vec![(kind, id, fields)])?;
        Ok(kind)
    }

    /// The entity before and after `edit`, with the entity's own rules checked.
    fn prepare_update<E: Entity>(
        &self,
        id: Uuid,
        edit: impl FnOnce(&mut E) -> Result<(), ValidationError>,
    ) -> Result<(E, E)> {
        self.check_record_here(E::KIND, id)?;
        let before: E = self.entity(E::KIND, id)?;
        let mut after = before.clone();
        edit(&mut after)?;
        after.check(&self.check_context())?;
        Ok((before, after))
    }

    /// Writes the fields of an edited entity that differ from the record's shown values.
    fn save_update<E: Entity>(&mut self, id: Uuid, after: &E) -> Result<bool> {
        Ok(self.write_all(vec![(E::KIND, id, after.to_fields())])? > 0)
    }

    /// A record's shown fields as its entity; an error if it is missing, removed or damaged.
    pub(crate) fn entity<E: Entity>(&self, kind: RecordKind, id: Uuid) -> Result<E> {
        let summary = tables::load_summary(&self.conn, kind, id)?
            .ok_or_else(|| FieldError::not_found(kind, id))?;
        if summary.is_deleted() {
            return Err(FieldError::not_found(kind, id));
        }
        E::from_fields(&summary.shown).map_err(|e| FieldError::Damaged {
            kind,
            id,
            reason: e.to_string(),
        })
    }

    /// What checking input that names a person needs of them; an input error naming the
    /// field (built by `field` only then) unless a live person of this device's puskesmas has
    /// this id. Each person is read once per action (`people`).
    fn person_facts(
        &self,
        people: &mut People,
        id: PersonId,
        field: impl Fn() -> String,
    ) -> Result<tables::PersonFacts> {
        if let Some((_, facts)) = people.0.iter().find(|(known, _)| *known == id) {
            return Ok(facts.clone());
        }
        let facts = tables::person_facts(&self.conn, id.0)?
            .ok_or_else(|| unknown(field(), RecordKind::Person))?;
        self.check_here(facts.puskesmas.as_deref(), &field)?;
        people.0.push((id, facts.clone()));
        Ok(facts)
    }

    /// A record of a household of another puskesmas than the device's (one moved away) is
    /// not the device's to add to or change: the server would refuse it.
    fn check_here(&self, puskesmas: Option<&str>, field: impl Fn() -> String) -> Result<()> {
        match (puskesmas, self.device.puskesmas.as_deref()) {
            (Some(theirs), Some(mine)) if theirs != mine => Err(ValidationError::new(
                field(),
                Rule::Consistency,
                format!("this household is of puskesmas {theirs} now: it is not this device's"),
            )
            .into()),
            _ => Ok(()),
        }
    }

    /// [`Replica::check_here`] for a stored record.
    fn check_record_here(&self, kind: RecordKind, id: Uuid) -> Result<()> {
        // A household's own puskesmas may change (that is how it moves); its records may not
        // be written once it moved.
        if kind == RecordKind::Household {
            return Ok(());
        }
        let puskesmas = tables::puskesmas_of(&self.conn, kind, id)?;
        self.check_here(puskesmas.as_deref(), || "household".to_owned())
    }

    /// An input error naming `field` unless a live record of `kind` has this id.
    fn require(&self, kind: RecordKind, id: Uuid, field: &str) -> Result<()> {
        if kind == RecordKind::Household {
            return self.require_household(id, field).map(drop);
        }
        if !tables::exists(&self.conn, kind, id)? {
            return Err(unknown(field, kind));
        }
        Ok(())
    }

    /// [`Replica::require`] for a household; gives its puskesmas.
    fn require_household(&self, id: Uuid, field: &str) -> Result<Option<String>> {
        let Some(puskesmas) = tables::household_here(&self.conn, id)? else {
            return Err(unknown(field, RecordKind::Household));
        };
        self.check_here(puskesmas.as_deref(), || field.to_owned())?;
        Ok(puskesmas)
    }

    /// Creates new records: nothing to diff against, so every non-null field is written.
    pub(crate) fn create_all(
        &mut self,
        records: Vec<(RecordKind, Uuid, FieldMap)>,
    ) -> Result<usize> {
        self.write_in_one_action(records, Ids::New)
    }

    /// Writes the given fields into their records in one transaction, as one user action.
    /// Returns how many fields changed; with none, nothing is written at all.
    pub(crate) fn write_all(
        &mut self,
        records: Vec<(RecordKind, Uuid, FieldMap)>,
    ) -> Result<usize> {
        self.write_in_one_action(records, Ids::Any)
    }

    fn write_in_one_action(
        &mut self,
        records: Vec<(RecordKind, Uuid, FieldMap)>,
        ids: Ids,
    ) -> Result<usize> {
        let author = self.author()?;
        let seq = self.next_change_seq;
        let tx = self.conn.transaction()?;
        let written = write_records(&tx, &self.forms, author, seq, records, ids)?;
        tx.commit()?;
        if written > 0 {
            self.next_change_seq += 1;
        }
        Ok(written)
    }
}

/// The people one action names, with what checking it needs of each, read once: a visit
/// screens a person with several forms, and refers one of them.
#[derive(Debug, Default)]
struct People(Vec<(PersonId, tables::PersonFacts)>);

impl People {
    /// A household's members, read at once: those a visit screens and refers nearly always
    /// are (their puskesmas is the household's, which the visit checks first).
    fn members_of(
        conn: &Connection,
        household: HouseholdId,
        puskesmas: Option<&str>,
    ) -> Result<People> {
        let members = tables::members_facts(conn, household.0, puskesmas)?;
        Ok(People(
            members
                .into_iter()
                .map(|(id, facts)| (PersonId(id), facts))
                .collect(),
        ))
    }
}

/// What a write knows of its records' ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ids {
    /// Ids just made for new records (or a seed's, which a second run meets again): each is
    /// first inserted as new, with no lookup and no CRDT built, and only one found stored
    /// after all takes the general path.
    New,
    /// Records that may be stored: each is loaded and written into.
    Any,
}

/// The write path every action shares: merge fields into each record's state, save it with
/// its columns, and put it in the outbox under one change number.
pub(crate) fn write_records(
    conn: &Connection,
    forms: &FormRegistry,
    author: Author,
    seq: i64,
    records: Vec<(RecordKind, Uuid, FieldMap)>,
    ids: Ids,
) -> Result<usize> {
    let mut total = 0;
    for (kind, id, fields) in records {
        let fields = match ids {
            Ids::New => match insert_new_record(conn, forms, author, seq, (kind, id), fields)? {
                NewRecord::Inserted(written) => {
                    total += written;
                    continue;
                }
                NewRecord::Stored(fields) => fields,
            },
            Ids::Any => fields,
        };
        let stored = tables::load(conn, kind, id)?;
        let before = stored.as_ref().map(RecordState::clock);
        let mut state = stored.unwrap_or_else(RecordState::new);
        let written = state.write(author, fields);
        if written == 0 {
            continue;
        }
        total += written;
        let derived = index::save(conn, kind, id, &state, forms)?;
        outbox::record(conn, id, kind, seq, derived.priority, before)?;
    }
    Ok(total)
}

/// What [`insert_new_record`] did.
enum NewRecord {
    /// Inserted, with this many fields written (0: every field was `Null`, nothing written).
    Inserted(usize),
    /// The record is stored already; nothing was written, and here are its fields back.
    Stored(FieldMap),
}

/// Inserts a record that is new here as `RecordState::new().write(author, fields)` would
/// store it (its envelope written straight from the fields), with its columns derived from
/// the fields themselves, which are exactly what a new record shows.
fn insert_new_record(
    conn: &Connection,
    forms: &FormRegistry,
    author: Author,
    seq: i64,
    (kind, id): (RecordKind, Uuid),
    mut fields: FieldMap,
) -> Result<NewRecord> {
    // A new record shows what is not `Null`; the `Null`s matter only to a record found
    // stored after all, so only their keys are kept, and the map is not rebuilt.
    let nulls: Vec<FieldKey> = fields
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| *k)
        .collect();
    fields.retain(|_, v| !v.is_null());
    let Some(bytes) = RecordState::encode_new(author, &fields) else {
        return Ok(NewRecord::Inserted(0));
    };
    let written = fields.len();
    let summary = Summary {
        shown: fields,
        conflicts: 0,
    };
    let derived = index::derive(kind, &summary, forms);
    if !index::insert_new(&mut tables::Writes::new(conn), kind, id, &bytes, &derived)? {
        let mut fields = summary.shown;
        fields.extend(nulls.into_iter().map(|k| (k, Value::Null)));
        return Ok(NewRecord::Stored(fields));
    }
    outbox::record(conn, id, kind, seq, derived.priority, None)?;
    Ok(NewRecord::Inserted(written))
}

/// Applies a JSON merge patch to an entity through its JSON form, with the entity's rules.
fn apply_patch<E: Entity>(
    entity: &mut E,
    patch: &serde_json::Value,
) -> Result<(), ValidationError> {
    if !patch.is_object() {
        return Err(ValidationError::new(
            "",
            Rule::Format,
            "an update must be a JSON object",
        ));
    }
    let mut json = serde_json::to_value(&*entity).expect("entities serialize to JSON");
    merge_patch(&mut json, patch);
    *entity = cageur_model::json::from_value(json)?;
    Ok(())
}

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(serde_json::Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(
                target.entry(key.clone()).or_insert(serde_json::Value::Null),
                value,
            );
        }
    }
}

/// The input error for a field that names a record this device does not hold.
fn unknown(field: impl Into<String>, kind: RecordKind) -> FieldError {
    ValidationError::new(
        field,
        Rule::Unknown,
        format!("no {kind} with this id on this device"),
    )
    .into()
}

fn within(err: FieldError, parent: &str) -> FieldError {
    match err {
        FieldError::Invalid(e) => FieldError::Invalid(e.within(parent)),
        other => other,
    }
}

/// Writes a person's resolution of a conflict (see [`RecordState::resolve`]) as one action.
pub(crate) fn write_records_resolving(
    conn: &Connection,
    forms: &FormRegistry,
    author: Author,
    seq: i64,
    target: (RecordKind, Uuid),
    key: FieldKey,
    value: Value,
) -> Result<()> {
    let (kind, id) = target;
    let mut state = tables::load(conn, kind, id)?.ok_or_else(|| FieldError::not_found(kind, id))?;
    let before = state.clock();
    state.resolve(author, key, value);
    let derived = index::save(conn, kind, id, &state, forms)?;
    outbox::record(conn, id, kind, seq, derived.priority, Some(before))
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn merge_patch_replaces_merges_and_clears() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4});
        merge_patch(&mut doc, &json!({"a": 5, "b": {"c": null}, "e": null}));
        assert_eq!(doc, json!({"a": 5, "b": {"d": 3}}));
    }
}
