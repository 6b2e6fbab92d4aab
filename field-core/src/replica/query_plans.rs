//! Every statement a tablet runs reads `records` through an index, never by scanning it.
//!
//! The five kinds share one table (schema v7) and are read through views, and an index
//! serves a view's query only if the planner sees that the query implies the index's `WHERE`:
//! a query worded a little differently would scan every state on the tablet (73 MB for a
//! puskesmas of 12,500 households) on every tap. So the statements are not listed here by
//! hand: every statement that seeding, searching, the worklist, reading, editing, merging and
//! exporting run is traced, and its plan checked.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use tempfile::TempDir;

use crate::replica::{SearchQuery, WorklistFilter};
use crate::seed::{SeedOptions, seed};
use crate::test_support::replica;
use cageur_model::RecordKind;

/// Small tables a scan of is cheap (a device row, the outbox of a week offline, ...).
const SMALL_TABLES: &[&str] = &[
    "device",
    "workers",
    "current_worker",
    "forms",
    "outbox",
    "sync_state",
    "resync_stage",
    "set_aside",
    "departed",
    // The queue of the recursive query that follows merged records, and its alias.
    "merged",
    "m",
];

/// Statements that must read every record, and say so.
const WHOLE_REPLICA: &[&str] = &["SELECT kind, count(*) FROM records WHERE live GROUP BY kind"];

#[test]
fn no_statement_scans_the_records_table() {
    let dir = TempDir::new().unwrap();
    let mut replica = replica(&dir.path().join("plans.db"), 1);
    let statements = Arc::new(Mutex::new(BTreeSet::new()));
    let seen = statements.clone();
    replica
        .conn
        .trace_v2(
            TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |event: TraceEvent<'_>| {
                if let TraceEvent::Stmt(stmt, _) = event {
                    seen.lock().unwrap().insert(stmt.sql().into_owned());
                }
            }),
        )
        .unwrap();

    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let options = SeedOptions {
        households: 40,
        seed: 7,
        puskesmas: "P3671050101".into(),
        team: "CPD-01".into(),
        today,
    };
    seed(&mut replica, &options, &mut |_| {}).unwrap();
    let states = replica.all_states().unwrap();
    let first = |kind| states.iter().find(|r| r.kind == kind).unwrap().id;
    let (household, person) = (first(RecordKind::Household), first(RecordKind::Person));
    let record = replica.get(household).unwrap().record;
    let kk = record["kk"].as_str().unwrap().to_owned();
    let kelurahan = record["address"]["kelurahan"].as_str().unwrap().to_owned();
    let member = replica.get(person).unwrap().record;
    for query in [
        SearchQuery::Kk(kk),
        SearchQuery::Nik(member["nik"].as_str().unwrap().to_owned()),
        SearchQuery::Name("siti".into()),
        SearchQuery::Area {
            kelurahan: kelurahan.clone(),
            rw: Some(1),
            rt: None,
        },
    ] {
        replica.search(&query).unwrap();
    }
    replica.worklist(today, &WorklistFilter::default()).unwrap();
    let in_area = WorklistFilter {
        kelurahan: Some(kelurahan),
        ..WorklistFilter::default()
    };
    replica.worklist(today, &in_area).unwrap();
    replica.members(household).unwrap();
    replica.conflicts().unwrap();
    replica.duplicates().unwrap();
    replica.counts().unwrap();
    replica
        .update_household(cageur_model::HouseholdId(household), |h| {
            h.head_name = cageur_model::name::PersonName::parse("Ahmad Suryadi")?;
            Ok(())
        })
        .unwrap();
    // States another tablet sent: known here, so merged record by record.
    replica.merge_remote(states).unwrap();
    replica.export().unwrap();

    replica
        .conn
        .trace_v2(
            TraceEventCodes::SQLITE_TRACE_STMT,
            None::<fn(TraceEvent<'_>)>,
        )
        .unwrap();
    let statements = statements.lock().unwrap().clone();
    assert!(
        statements.len() > 20,
        "the trace saw only {} statements",
        statements.len()
    );
    let mut scans = Vec::new();
    for sql in &statements {
        if WHOLE_REPLICA.contains(&sql.as_str()) {
            continue;
        }
        for step in plan(&replica.conn, sql) {
            if std::env::var_os("SHOW_PLANS").is_some() {
                eprintln!(
                    "{step}  <=  {}",
                    sql.split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
            let Some(scanned) = step.strip_prefix("SCAN ") else {
                continue;
            };
            if !scanned.contains(" USING ") && !SMALL_TABLES.contains(&scanned) {
                scans.push(format!("{step}: {sql}"));
            }
        }
    }
    assert!(scans.is_empty(), "full scans:\n{}", scans.join("\n"));
}

/// The steps of a statement's query plan (`EXPLAIN QUERY PLAN`'s detail column); none for a
/// statement that has no plan (`BEGIN`, `PRAGMA`, ...).
fn plan(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let Ok(mut stmt) = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")) else {
        return Vec::new();
    };
    let mut rows = stmt.raw_query();
    let mut steps = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        steps.push(row.get::<_, String>(3).unwrap());
    }
    steps
}
