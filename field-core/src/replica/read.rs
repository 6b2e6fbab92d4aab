//! Reading records: one record, search, and the worklist for today.

use std::collections::{BTreeMap, HashMap};

use cageur_model::fields::date_from_days;
use cageur_model::forms::FormRegistry;
use cageur_model::household::Household;
use cageur_model::name::search_key;
use cageur_model::pispk::PisPk;
use cageur_model::{Entity, FieldKey, KkNumber, Nik, RecordKind, ReferralStatus, Value, Visit};
use cageur_protocol::{RecordState, policy};
use chrono::NaiveDate;
use rusqlite::params_from_iter;
use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::Replica;
use super::conflicts::{ConflictView, conflict_views};
use crate::error::{FieldError, Result};
use crate::store::tables::{self, uuid_from_blob};

/// A record as the app shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    /// The record's kind.
    pub kind: RecordKind,
    /// The record's id.
    pub id: Uuid,
    /// The entity's JSON, with what is derived from it (a visit's screenings and flags, a
    /// household's family health index).
    pub record: Json,
    /// Whether the record is removed (a tombstone: its fields are kept, never erased).
    pub deleted: bool,
    /// The record this duplicate was merged into, where its members and visits are found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<Uuid>,
    /// The record's unresolved same-field conflicts; the shown values are already in `record`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ConflictView>,
}

/// What to search for.
#[derive(Debug, Clone)]
pub enum SearchQuery {
    /// A household by its KK number.
    Kk(String),
    /// A person by NIK.
    Nik(String),
    /// People whose name contains this text (case-insensitive).
    Name(String),
    /// Households of a kelurahan, optionally one RW and RT.
    Area {
        /// The kelurahan's name, matched case- and accent-insensitively.
        kelurahan: String,
        /// Only this RW (neighbourhood) of the kelurahan, if given.
        rw: Option<u16>,
        /// Only this RT (block within the RW), if given.
        rt: Option<u16>,
    },
}

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    /// A household or a person, as the query asked for.
    pub kind: RecordKind,
    /// The record's id, for [`Replica::get`] and the actions.
    pub id: Uuid,
    /// The entity's JSON as shown, with what is derived from it.
    pub record: Json,
}

/// Most results a search returns.
pub const SEARCH_LIMIT: usize = 100;

/// Narrows the worklist to part of the area.
#[derive(Debug, Clone, Default)]
pub struct WorklistFilter {
    /// Only households of this kelurahan (matched case- and accent-insensitively).
    pub kelurahan: Option<String>,
    /// Only households of this RW.
    pub rw: Option<u16>,
    /// Only households of this RT.
    pub rt: Option<u16>,
    /// Most items listed per section (the totals count them all).
    pub limit: Option<usize>,
}

/// A household on the worklist.
#[derive(Debug, Clone, Serialize)]
pub struct HouseholdItem {
    /// The household's id.
    pub id: Uuid,
    /// The head of the household's name, if recorded.
    pub head_name: Option<String>,
    /// The kelurahan as a search key (lowercased, accents folded): for grouping, not display.
    pub kelurahan: Option<String>,
    /// The household's RW, if recorded.
    pub rw: Option<i64>,
    /// The household's RT, if recorded.
    pub rt: Option<i64>,
    /// The day of the latest visit at which someone was home (counting merged households).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<NaiveDate>,
    /// When a visit is due again: 30 days after a visit that raised a flag, 180 after one
    /// that did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
}

/// A follow-up due.
#[derive(Debug, Clone, Serialize)]
pub struct FollowUpItem {
    /// The follow-up's id.
    pub id: Uuid,
    /// The person to follow up, if the record names one.
    pub person: Option<Uuid>,
    /// That person's name as shown, for the list.
    pub person_name: Option<String>,
    /// The household to go to.
    pub household: Option<Uuid>,
    /// The day it was due: today or earlier, since only due and not done ones are listed.
    pub due: Option<NaiveDate>,
}

/// An open referral.
#[derive(Debug, Clone, Serialize)]
pub struct ReferralItem {
    /// The referral's id.
    pub id: Uuid,
    /// The person referred, if the record names one.
    pub person: Option<Uuid>,
    /// That person's name as shown, for the list.
    pub person_name: Option<String>,
    /// The person's household.
    pub household: Option<Uuid>,
    /// Created, sent or arrived: only open referrals are listed.
    pub status: Option<ReferralStatus>,
    /// Urgent or emergency, or an ambulance was needed; urgent ones are listed first.
    pub urgent: bool,
}

/// What a team has to do today.
#[derive(Debug, Clone, Serialize)]
pub struct Worklist {
    /// The day the list was made for, as the app passed it.
    pub today: NaiveDate,
    /// How many households in the area were never seen, before the limit.
    pub never_visited_total: usize,
    /// Households in the area never seen at a visit, by kelurahan, RW, RT; at most the limit.
    pub never_visited: Vec<HouseholdItem>,
    /// How many households in the area are due again, before the limit.
    pub due_again_total: usize,
    /// Households whose revisit is due by today, longest overdue first; at most the limit.
    pub due_again: Vec<HouseholdItem>,
    /// Follow-ups in the area not done and due by today, earliest first; at most the limit.
    pub followups_due: Vec<FollowUpItem>,
    /// Open referrals in the area, urgent first; at most the limit.
    pub open_referrals: Vec<ReferralItem>,
}

/// A household is due again this many days after a visit in which nobody was flagged...
pub const ROUTINE_REVISIT_DAYS: i64 = 180;
/// ...and this many after a visit that raised a flag (raised blood pressure, presumptive TB,
/// an untreated mental disorder, a danger sign).
pub const FLAGGED_REVISIT_DAYS: i64 = 30;

impl Replica {
    /// A record by id, whatever its kind.
    pub fn get(&self, id: Uuid) -> Result<RecordView> {
        let kind = tables::kind_of(&self.conn, id)?.ok_or(FieldError::NotFound {
            kind: RecordKind::Household,
            id,
        })?;
        let state =
            tables::load(&self.conn, kind, id)?.ok_or_else(|| FieldError::not_found(kind, id))?;
        Ok(view(kind, id, &state, &self.forms))
    }

    /// Finds households or people.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let (kind, sql, args): (RecordKind, &str, Vec<rusqlite::types::Value>) = match query {
            SearchQuery::Kk(text) => {
                let kk = KkNumber::parse(text).map_err(|e| e.within("kk"))?;
                (
                    RecordKind::Household,
                    "SELECT id FROM households WHERE live AND kk = ?1",
                    vec![kk.as_string().parse::<i64>().unwrap_or(0).into()],
                )
            }
            SearchQuery::Nik(text) => {
                let nik = Nik::parse(text).map_err(|e| e.within("nik"))?;
                (
                    RecordKind::Person,
                    "SELECT id FROM persons WHERE live AND nik = ?1",
                    vec![nik.as_string().parse::<i64>().unwrap_or(0).into()],
                )
            }
            SearchQuery::Name(text) => {
                let key = search_key(text);
                if key.is_empty() {
                    return Err(cageur_model::ValidationError::new(
                        "name",
                        cageur_model::Rule::Required,
                        "must not be empty",
                    )
                    .into());
                }
                let pattern = format!(
                    "%{}%",
                    key.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                );
                (
                    RecordKind::Person,
                    "SELECT id FROM persons WHERE live AND name_key LIKE ?1 ESCAPE '\\' ORDER BY name_key, id",
                    vec![pattern.into()],
                )
            }
            SearchQuery::Area { kelurahan, rw, rt } => (
                RecordKind::Household,
                "SELECT id FROM households WHERE live AND kelurahan = ?1
                 AND (?2 IS NULL OR rw = ?2) AND (?3 IS NULL OR rt = ?3) ORDER BY rw, rt, id",
                vec![
                    search_key(kelurahan).into(),
                    rw.map(i64::from).into(),
                    rt.map(i64::from).into(),
                ],
            ),
        };
        let mut stmt = self.conn.prepare_cached(sql)?;
        let ids: Vec<Uuid> = stmt
            .query_map(params_from_iter(args), |r| r.get::<_, Vec<u8>>(0))?
            .filter_map(|r| r.ok().and_then(|b| uuid_from_blob(&b)))
            .take(SEARCH_LIMIT)
            .collect();
        ids.into_iter()
            .map(|id| {
                let state = tables::load(&self.conn, kind, id)?
                    .ok_or_else(|| FieldError::not_found(kind, id))?;
                Ok(SearchHit {
                    kind,
                    id,
                    record: record_json(kind, &state, &self.forms),
                })
            })
            .collect()
    }

    /// How many live records of each kind the replica holds.
    pub fn counts(&self) -> Result<BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, u64> =
            RecordKind::ALL.iter().map(|k| (k.to_string(), 0)).collect();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, count(*) FROM records WHERE live GROUP BY kind")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            if let Some(kind) = RecordKind::from_code(row.get(0)?) {
                out.insert(kind.to_string(), row.get::<_, i64>(1)?.unsigned_abs());
            }
        }
        Ok(out)
    }

    /// The members of a household (and of households merged into it).
    pub fn members(&self, household: Uuid) -> Result<Vec<SearchHit>> {
        let mut households = vec![household];
        households.extend(self.merged_into_chain(RecordKind::Household, household)?);
        let mut hits = Vec::new();
        for h in households {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM persons WHERE live AND household = ?1 ORDER BY id",
            )?;
            let ids: Vec<Uuid> = stmt
                .query_map([h.as_bytes()], |r| r.get::<_, Vec<u8>>(0))?
                .filter_map(|r| r.ok().and_then(|b| uuid_from_blob(&b)))
                .collect();
            for id in ids {
                if let Some(state) = tables::load(&self.conn, RecordKind::Person, id)? {
                    hits.push(SearchHit {
                        kind: RecordKind::Person,
                        id,
                        record: record_json(RecordKind::Person, &state, &self.forms),
                    });
                }
            }
        }
        Ok(hits)
    }

    /// The records merged (directly or through others) into `id`.
    pub(crate) fn merged_into_chain(&self, kind: RecordKind, id: Uuid) -> Result<Vec<Uuid>> {
        let table = tables::table(kind);
        let sql = format!(
            "WITH RECURSIVE merged(id) AS (
                 SELECT id FROM {table} WHERE merged_into = ?1
                 UNION SELECT t.id FROM {table} t JOIN merged m ON t.merged_into = m.id
             ) SELECT id FROM merged LIMIT 1000"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let ids = stmt
            .query_map([id.as_bytes()], |r| r.get::<_, Vec<u8>>(0))?
            .filter_map(|r| r.ok().and_then(|b| uuid_from_blob(&b)))
            .filter(|m| *m != id)
            .collect();
        Ok(ids)
    }

    /// The worklist for `today`: households never visited, households due again, follow-ups
    /// due and open referrals.
    pub fn worklist(&self, today: NaiveDate, filter: &WorklistFilter) -> Result<Worklist> {
        let limit = filter.limit.unwrap_or(50);
        let today_days = cageur_model::fields::days_since_epoch(today);

        // Visits of a household merged into another count for the one it was merged into.
        let mut alias: HashMap<Uuid, Uuid> = HashMap::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, merged_into FROM households WHERE merged_into IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            for row in rows {
                let (from, to) = row?;
                if let (Some(from), Some(to)) = (uuid_from_blob(&from), uuid_from_blob(&to)) {
                    alias.insert(from, to);
                }
            }
        }
        let canonical = |mut id: Uuid| {
            for _ in 0..16 {
                match alias.get(&id) {
                    Some(next) if *next != id => id = *next,
                    _ => break,
                }
            }
            id
        };
        let mut last_seen: HashMap<Uuid, (i32, bool)> = HashMap::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT household, max(visited_on), flagged FROM visits
                 WHERE live AND seen AND visited_on IS NOT NULL GROUP BY household",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i32>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            })?;
            for row in rows {
                let (household, day, flagged) = row?;
                let Some(household) = uuid_from_blob(&household) else {
                    continue;
                };
                let entry = last_seen
                    .entry(canonical(household))
                    .or_insert((day, flagged));
                if day > entry.0 {
                    *entry = (day, flagged);
                }
            }
        }

        let area_sql = "live AND (?1 IS NULL OR kelurahan = ?1) AND (?2 IS NULL OR rw = ?2) AND (?3 IS NULL OR rt = ?3)";
        let area_args = [
            rusqlite::types::Value::from(filter.kelurahan.as_deref().map(search_key)),
            filter.rw.map(i64::from).into(),
            filter.rt.map(i64::from).into(),
        ];
        let mut never = Vec::new();
        let mut due = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT id, kelurahan, rw, rt FROM households WHERE {area_sql} ORDER BY kelurahan, rw, rt, id"
            ))?;
            let rows = stmt.query_map(params_from_iter(area_args.iter()), |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })?;
            for row in rows {
                let (id, kelurahan, rw, rt) = row?;
                let Some(id) = uuid_from_blob(&id) else {
                    continue;
                };
                let item = HouseholdItem {
                    id,
                    head_name: None,
                    kelurahan,
                    rw,
                    rt,
                    last_seen: None,
                    due: None,
                };
                match last_seen.get(&id) {
                    None => never.push(item),
                    Some((day, flagged)) => {
                        let interval = if *flagged {
                            FLAGGED_REVISIT_DAYS
                        } else {
                            ROUTINE_REVISIT_DAYS
                        };
                        let due_day = i64::from(*day) + interval;
                        if due_day <= i64::from(today_days) {
                            due.push((
                                due_day,
                                HouseholdItem {
                                    last_seen: date_from_days(*day),
                                    due: i32::try_from(due_day).ok().and_then(date_from_days),
                                    ..item
                                },
                            ));
                        }
                    }
                }
            }
        }
        due.sort_by_key(|(day, item)| (*day, item.id));
        let (never_visited_total, due_again_total) = (never.len(), due.len());
        let mut never_visited: Vec<HouseholdItem> = never.into_iter().take(limit).collect();
        let mut due_again: Vec<HouseholdItem> =
            due.into_iter().take(limit).map(|(_, i)| i).collect();
        for item in never_visited.iter_mut().chain(due_again.iter_mut()) {
            item.head_name = self.text_field(RecordKind::Household, item.id, 11)?;
        }

        let mut followups_due = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT f.id, f.person, f.household, f.due FROM followups f
                 JOIN households h ON h.id = f.household
                 WHERE f.live AND NOT f.done AND f.due <= ?4 AND h.{} ORDER BY f.due, f.id LIMIT ?5",
                area_sql.replace(" kelurahan", " h.kelurahan").replace(" rw", " h.rw").replace(" rt", " h.rt")
            ))?;
            let mut args: Vec<rusqlite::types::Value> = area_args.to_vec();
            args.push(i64::from(today_days).into());
            args.push((limit as i64).into());
            let rows = stmt.query_map(params_from_iter(args), |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                    r.get::<_, Option<i32>>(3)?,
                ))
            })?;
            for row in rows {
                let (id, person, household, due) = row?;
                let Some(id) = uuid_from_blob(&id) else {
                    continue;
                };
                followups_due.push(FollowUpItem {
                    id,
                    person: person.as_deref().and_then(uuid_from_blob),
                    person_name: None,
                    household: household.as_deref().and_then(uuid_from_blob),
                    due: due.and_then(date_from_days),
                });
            }
        }
        let mut open_referrals = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT r.id, r.person, r.household, r.status, r.urgent FROM referrals r
                 JOIN households h ON h.id = r.household
                 WHERE r.live AND r.status IN (1, 2, 3) AND h.{} ORDER BY r.urgent DESC, r.id LIMIT ?4",
                area_sql.replace(" kelurahan", " h.kelurahan").replace(" rw", " h.rw").replace(" rt", " h.rt")
            ))?;
            let mut args: Vec<rusqlite::types::Value> = area_args.to_vec();
            args.push((limit as i64).into());
            let rows = stmt.query_map(params_from_iter(args), |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })?;
            for row in rows {
                let (id, person, household, status, urgent) = row?;
                let Some(id) = uuid_from_blob(&id) else {
                    continue;
                };
                open_referrals.push(ReferralItem {
                    id,
                    person: person.as_deref().and_then(uuid_from_blob),
                    person_name: None,
                    household: household.as_deref().and_then(uuid_from_blob),
                    status: status
                        .and_then(|s| u8::try_from(s).ok())
                        .and_then(ReferralStatus::from_code),
                    urgent,
                });
            }
        }
        for item in &mut followups_due {
            if let Some(person) = item.person {
                item.person_name = self.text_field(RecordKind::Person, person, 12)?;
            }
        }
        for item in &mut open_referrals {
            if let Some(person) = item.person {
                item.person_name = self.text_field(RecordKind::Person, person, 12)?;
            }
        }
        Ok(Worklist {
            today,
            never_visited_total,
            never_visited,
            due_again_total,
            due_again,
            followups_due,
            open_referrals,
        })
    }

    /// One text field of a record, as shown.
    fn text_field(&self, kind: RecordKind, id: Uuid, key: u32) -> Result<Option<String>> {
        Ok(tables::load(&self.conn, kind, id)?
            .and_then(|s| s.field(FieldKey(key), &policy(kind)))
            .and_then(|f| f.shown.value.as_text().map(str::to_owned)))
    }
}

/// A record's view: its JSON, tombstone, merge target and conflicts.
pub(crate) fn view(
    kind: RecordKind,
    id: Uuid,
    state: &RecordState,
    forms: &FormRegistry,
) -> RecordView {
    let fields = state.shown(&policy(kind));
    RecordView {
        kind,
        id,
        record: record_json(kind, state, forms),
        deleted: state.is_deleted(),
        merged_into: fields.get(&FieldKey::MERGED_INTO).and_then(Value::as_id),
        conflicts: conflict_views(kind, id, state, forms),
    }
}

/// The entity JSON of a record, with what is derived from it.
pub(crate) fn record_json(kind: RecordKind, state: &RecordState, forms: &FormRegistry) -> Json {
    let fields = state.shown(&policy(kind));
    let mut json = match kind {
        RecordKind::Household => Household::fields_json(&fields),
        RecordKind::Person => cageur_model::Person::fields_json(&fields),
        RecordKind::Visit => Visit::fields_json(&fields),
        RecordKind::Referral => cageur_model::Referral::fields_json(&fields),
        RecordKind::FollowUp => cageur_model::FollowUp::fields_json(&fields),
    };
    match kind {
        RecordKind::Visit => {
            let screenings: Vec<Json> = Visit::screenings_from_fields(&fields)
                .iter()
                .map(|s| s.to_json(forms))
                .collect();
            if !screenings.is_empty() {
                json["screenings"] = Json::Array(screenings);
            }
        }
        RecordKind::Household => {
            let pispk: Option<PisPk> = json
                .get("pispk")
                .and_then(|p| serde_json::from_value(p.clone()).ok());
            if let Some(index) = pispk.and_then(|p| p.health_index()) {
                json["health_index"] = json!(index);
            }
        }
        _ => {}
    }
    json
}

/// Groups of ids by a key, keeping only groups of two or more.
pub(crate) fn groups_of_two_or_more<K: Ord>(
    pairs: impl IntoIterator<Item = (K, Uuid)>,
) -> Vec<(K, Vec<Uuid>)> {
    let mut groups: BTreeMap<K, Vec<Uuid>> = BTreeMap::new();
    for (k, id) in pairs {
        groups.entry(k).or_default().push(id);
    }
    groups
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect()
}
