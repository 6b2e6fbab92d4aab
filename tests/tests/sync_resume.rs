//! A tablet's bootstrap is cut when the link goes down half way: every page merged before the
//! cut stays merged with its cursor, and the next sync goes on from there instead of starting
//! over; in the end the tablet holds exactly what the server does.

use cageur_e2e::device::{enroll, enroll_via, register};
use cageur_e2e::link::Link;
use cageur_e2e::{Server, admin, try_field};
use serde_json::Value;

const PUSKESMAS: &str = "P3671050101";
/// Small pages, so that the bootstrap takes many.
const PAGE_BYTES: &str = "8000";

fn records_held(status: &Value) -> u64 {
    status["records"]
        .as_object()
        .expect("status lists records by kind")
        .values()
        .map(|n| n.as_u64().expect("a count"))
        .sum()
}

#[test]
fn a_bootstrap_cut_half_way_goes_on_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&format!(
        "sqlite:{}",
        dir.path().join("server.db").display()
    ));
    let token = server.admin_token();
    register(&server, &token, PUSKESMAS, &["TEAM-A", "TEAM-B"]);

    // Team A's tablet holds the puskesmas's history and uploads it.
    let a = enroll(&server, &token, dir.path(), "TEAM-A", 21);
    a.run(&["seed", "--households", "60", "--today", "2026-11-20"]);
    a.sync();
    let status_a: Value = serde_json::from_str(&a.run(&["--json", "status"])).unwrap();
    let total = records_held(&status_a);
    assert!(total > 500, "the seeded scope is {total} records");

    // Team B's new tablet bootstraps over a link that goes down a third of the way in.
    let link = Link::start(server.addr());
    let b = enroll_via(&link.url, &server, &token, dir.path(), "TEAM-B", 22);
    link.go_down_after(25_000);
    let cut = try_field(
        &b.db,
        &["sync", "--page-bytes", PAGE_BYTES, "--attempts", "2"],
        None,
    );
    assert!(cut.is_err(), "the sync ends with the link down: {cut:?}");
    assert!(link.is_down());

    let status: Value = serde_json::from_str(&b.run(&["--json", "status"])).unwrap();
    let kept = records_held(&status);
    assert!(
        kept > 0 && kept < total,
        "pages merged before the cut are kept: {kept} of {total}"
    );
    assert!(status["sync"]["cursor"].as_u64().unwrap() > 0);

    // Back in coverage: the next sync pulls only what the cut one did not merge.
    link.restore();
    let report: Value =
        serde_json::from_str(&b.run(&["--json", "sync", "--page-bytes", PAGE_BYTES])).unwrap();
    let pulled = report["pulled"].as_u64().unwrap();
    assert!(
        pulled <= total - kept,
        "went on from the cursor: pulled {pulled}, {kept} were kept, {total} in all"
    );

    let exported = b.export();
    assert_eq!(exported, a.export());
    let server_export = admin(&server, &token, &["export", "--puskesmas", PUSKESMAS]).unwrap();
    assert_eq!(exported.trim_end(), server_export.trim_end());
}
