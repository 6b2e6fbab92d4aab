//! (a) A week offline on a seeded puskesmas, through a real server over loopback: team A
//! records visits and edits, team B edits some of the same fields; both sync; the bytes,
//! against Automerge 0.12's sync protocol on the same changes.

use field_core::Replica;
use field_core::model::RecordKind;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::automerge_sync::{self, AutomergeWeek};
use crate::server::BenchServer;
use crate::tablet::{self, SyncRun, timed_sync, worker};
use crate::week::{FieldEdit, RecordJson, WeekWorkload};
use crate::{Result, plain};

/// The size of the week.
#[derive(Debug, Clone, Copy)]
pub struct WeekConfig {
    pub households: u32,
    pub visits: u32,
    pub edits: u32,
    /// Of the edits, how many B also makes to the same field.
    pub collisions: u32,
}

/// Everything the run measured.
#[derive(Debug)]
pub struct WeekReport {
    pub config: WeekConfig,
    pub records: usize,
    pub upload: SyncRun,
    pub b_before: SyncRun,
    pub a_week: SyncRun,
    pub b_after: SyncRun,
    pub idle: SyncRun,
    pub automerge: AutomergeWeek,
}

/// Targets of the sync issue.
const WEEK_BYTES_TARGET: u64 = 64 * 1024;
const AUTOMERGE_RATIO_TARGET: f64 = 0.25;
const IDLE_BYTES_TARGET: u64 = 1024;

impl WeekReport {
    /// Bytes of team A's sync after its week: its push and its pull.
    pub fn team_bytes(&self) -> u64 {
        self.a_week.bytes()
    }

    /// Bytes of the week's syncs, both teams, both directions.
    pub fn week_bytes(&self) -> u64 {
        self.b_before.bytes() + self.a_week.bytes() + self.b_after.bytes()
    }

    pub fn automerge_bytes(&self) -> u64 {
        self.automerge.bytes_a_to_b + self.automerge.bytes_b_to_a
    }

    pub fn print(&self) {
        let c = self.config;
        println!(
            "Sync: a puskesmas of {} households ({} records), real server on SQLite, loopback HTTP",
            c.households, self.records
        );
        self.upload.line("seeded tablet uploads the scope");
        println!(
            "(a) a week offline: {} visits, {} edits by team A, {} colliding edits by team B",
            c.visits, c.edits, c.collisions
        );
        self.b_before.line("B pushes its edits");
        self.a_week.line("A pushes its week, pulls B's");
        self.b_after.line("B pulls A's week");
        self.idle.line("idle sync");
        let team = self.team_bytes();
        println!(
            "  team A's sync {team} B (target <= {WEEK_BYTES_TARGET}: {})",
            verdict(team <= WEEK_BYTES_TARGET)
        );
        let ours = self.week_bytes();
        let theirs = self.automerge_bytes();
        println!("  both teams' syncs, every change up to the server and down again: {ours} B");
        let ratio = ours as f64 / theirs as f64;
        println!(
            "  Automerge 0.12 sync, same changes: {theirs} B ({} messages, {:.2} s; base document {} B, built in {:.1} s) -> {ratio:.2}x (target <= {AUTOMERGE_RATIO_TARGET}x: {})",
            self.automerge.messages,
            self.automerge.sync_seconds,
            self.automerge.base_doc_bytes,
            self.automerge.build_seconds,
            verdict(ratio <= AUTOMERGE_RATIO_TARGET)
        );
        println!(
            "  idle sync {} B (target < {IDLE_BYTES_TARGET}: {}); Automerge idle {} B",
            self.idle.bytes(),
            verdict(self.idle.bytes() < IDLE_BYTES_TARGET),
            self.automerge.idle_bytes
        );
    }

    pub fn to_json(&self) -> Value {
        json!({
            "households": self.config.households, "records": self.records,
            "upload": self.upload.to_json(),
            "b_before": self.b_before.to_json(), "a_week": self.a_week.to_json(),
            "b_after": self.b_after.to_json(), "idle": self.idle.to_json(),
            "team_bytes": self.team_bytes(), "week_bytes": self.week_bytes(), "automerge_bytes": self.automerge_bytes(),
            "automerge_messages": self.automerge.messages,
            "automerge_idle_bytes": self.automerge.idle_bytes,
        })
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// Runs (a) against `server`.
pub fn run(server: &BenchServer, config: WeekConfig) -> Result<WeekReport> {
    let dir = tempfile::tempdir()?;
    let upload = tablet::upload_seeded(server, config.households, dir.path())?;

    // Team A's and team B's new tablets bootstrap (measured in (b), not here).
    eprintln!("  bootstrapping");
    let mut a = server.enroll("CPD-02", &dir.path().join("a.db"), tablet::options())?;
    worker(&mut a, 201)?;
    timed_sync(&mut a)?;
    let mut b = server.enroll("CPD-03", &dir.path().join("b.db"), tablet::options())?;
    worker(&mut b, 301)?;
    timed_sync(&mut b)?;
    let states = a.all_states()?;

    // (a) The week: the workload as both engines replay it.
    eprintln!("  recording the week");
    let mut workload = WeekWorkload {
        base: states
            .iter()
            .map(|s| record_json(&a, s.kind, s.id))
            .collect::<Result<_>>()?,
        ..Default::default()
    };
    let households: Vec<Uuid> = states
        .iter()
        .filter(|s| s.kind == RecordKind::Household)
        .map(|s| s.id)
        .collect();
    record_visits(
        &mut a,
        &households,
        config.visits,
        "CPD-02",
        |a, kind, id| {
            workload.a_new.push(record_json(a, kind, id)?);
            Ok(())
        },
    )?;
    make_edits(&mut a, &mut b, &households, config, &mut workload)?;

    let b_before = timed_sync(&mut b)?;
    let a_week = timed_sync(&mut a)?;
    let b_after = timed_sync(&mut b)?;
    let idle = timed_sync(&mut a)?;
    if a.export()? != b.export()? {
        return Err("after the week, tablets A and B differ".into());
    }

    eprintln!("  the same week on Automerge");
    let automerge = automerge_sync::run(&workload)?;
    Ok(WeekReport {
        config,
        records: states.len(),
        upload,
        b_before,
        a_week,
        b_after,
        idle,
        automerge,
    })
}

fn record_json(replica: &Replica, kind: RecordKind, id: Uuid) -> Result<RecordJson> {
    let json = plain::entity_json(kind, replica.get(id)?.record);
    match serde_json::from_str(&json)? {
        Value::Object(map) => Ok((id, map)),
        other => Err(format!("record {id} is not an object: {other}").into()),
    }
}

/// A team's visits: vital signs and a TB screen of every member; every tenth visit refers one
/// member for raised blood pressure. `on_record` sees every new record.
pub fn record_visits(
    a: &mut Replica,
    households: &[Uuid],
    visits: u32,
    team: &str,
    mut on_record: impl FnMut(&Replica, RecordKind, Uuid) -> Result<()>,
) -> Result<()> {
    let no_tb = json!({"cough_two_weeks": false, "cough_with_blood": false, "fever": false,
                       "night_sweats": false, "weight_loss": false, "tb_contact": false});
    for n in 0..visits as usize {
        let household = households[(n * 7919) % households.len()];
        let members = a.members(household)?;
        let mut screenings = Vec::new();
        for m in &members {
            let person = m.id;
            screenings.push(
                json!({"person": person, "form": {"id": "vital-signs", "version": 1},
                "values": {"systolic": 120 + (n % 40), "diastolic": 80, "pulse": 76,
                           "weight": 58.5, "height": 158.0}}),
            );
            screenings.push(
                json!({"person": person, "form": {"id": "tb-symptoms", "version": 1},
                "values": no_tb}),
            );
        }
        let referrals = match members.first() {
            Some(m) if n % 10 == 0 => vec![json!({
                "person": m.id, "category": "hypertension", "reason": "Tekanan darah tinggi",
                "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"},
                "urgency": "routine"})],
            _ => vec![],
        };
        let visit = json!({
            "visit": {"household": household, "visited_at": "2026-11-23T09:30:00+07:00",
                      "team": team, "outcome": "visited", "screenings": screenings},
            "referrals": referrals
        });
        let recorded = a.record_visit(serde_json::from_value(visit)?)?;
        on_record(a, RecordKind::Visit, recorded.visit.0)?;
        for r in recorded.referrals {
            on_record(a, RecordKind::Referral, r.0)?;
        }
    }
    Ok(())
}

/// A's edits (a household's street, alternating with its head's name) and B's collisions: B
/// sets the same field of the first `collisions` of them to another value.
fn make_edits(
    a: &mut Replica,
    b: &mut Replica,
    households: &[Uuid],
    config: WeekConfig,
    workload: &mut WeekWorkload,
) -> Result<()> {
    for n in 0..config.edits as usize {
        let household = households[(n * 104_729 + 13) % households.len()];
        let (path, mine, theirs): (&[&str], String, String) = if n % 2 == 0 {
            (
                &["address", "street"],
                format!("Jl. Anggrek No. {}", n + 1),
                format!("Gg. Mawar No. {}", n + 1),
            )
        } else {
            (
                &["head_name"],
                format!("Hj. Sri Wahyuni {}", letters(n)),
                format!("Bpk. Slamet {}", letters(n)),
            )
        };
        let path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
        a.update_json(household, &patch_at(&path, json!(mine)))?;
        workload.a_edits.push(FieldEdit {
            record: household,
            path: path.clone(),
            value: json!(mine),
        });
        if (n as u32) < config.collisions {
            b.update_json(household, &patch_at(&path, json!(theirs)))?;
            workload.b_edits.push(FieldEdit {
                record: household,
                path,
                value: json!(theirs),
            });
        }
    }
    Ok(())
}

/// The JSON merge patch that sets the field at `path` to `value`.
fn patch_at(path: &[String], value: Value) -> Value {
    path.iter()
        .rev()
        .fold(value, |inner, key| json!({ key.as_str(): inner }))
}

/// A name-safe distinct suffix for `n` (names hold letters only): 0 -> "A", 26 -> "BA".
fn letters(mut n: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}
