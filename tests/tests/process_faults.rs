//! Faults on the real processes, over HTTP on loopback, against both stores: `cageur-server`
//! killed with SIGKILL during a large push and during a bootstrap, `cageur-field sync` killed
//! at random points, connections cut in the middle of a request body and of a response body,
//! and a slow link (hundreds of milliseconds of latency, tens of KB/s).
//!
//! After the fault heals, a normal sync completes and the invariants hold: every tablet's
//! export and the server's export of the puskesmas are byte-identical, and they hold exactly
//! the records seeded, each once.
//!
//! The random kill points come from a seed printed at the start of each test; set
//! `CAGEUR_FAULT_SEED` to run the same points again (timing still varies with the machine).

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use cageur_e2e::device::{Device, enroll, enroll_via, register};
use cageur_e2e::link::Link;
use cageur_e2e::pg::TestDatabase;
use cageur_e2e::{KEY_HEX, Server, admin, binary};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tempfile::TempDir;

const PUSKESMAS: &str = "P3671050101";
/// Small pages, so that a bootstrap takes many requests.
const PAGE_BYTES: &str = "8000";

/// Where a test's server keeps its data.
#[derive(Debug, Clone, Copy)]
enum Store {
    Sqlite,
    Postgres,
}

/// A health office for one test: a server on `store`, a puskesmas with two teams, and the
/// admin credential.
struct Office {
    dir: TempDir,
    server: Server,
    token: String,
    /// Keeps the PostgreSQL database alive for the test; dropped (with it) at the end.
    _database: Option<TestDatabase>,
}

impl Office {
    fn open(store: Store, label: &str) -> Office {
        let dir = tempfile::tempdir().unwrap();
        let (db, database) = match store {
            Store::Sqlite => (
                format!("sqlite:{}", dir.path().join("server.db").display()),
                None,
            ),
            Store::Postgres => {
                let database = TestDatabase::create(label);
                (database.url.clone(), Some(database))
            }
        };
        let server = Server::start(&db);
        let token = server.admin_token();
        register(&server, &token, PUSKESMAS, &["TEAM-A", "TEAM-B"]);
        Office {
            dir,
            server,
            token,
            _database: database,
        }
    }

    /// A tablet of `team` enrolled with the server, syncing straight to it.
    fn tablet(&self, team: &str, worker: u32) -> Device {
        enroll(&self.server, &self.token, self.dir.path(), team, worker)
    }

    /// A tablet of `team` that syncs through `link`.
    fn tablet_via(&self, link: &Link, team: &str, worker: u32) -> Device {
        enroll_via(
            &link.url,
            &self.server,
            &self.token,
            self.dir.path(),
            team,
            worker,
        )
    }

    /// Kills the server with SIGKILL (no goodbye, nothing flushed) and starts it again on the
    /// same address, where the tablets and links know it.
    fn crash_and_restart(&mut self) {
        let (db, addr) = (self.server.db.clone(), self.server.addr().to_owned());
        self.server.kill();
        self.server = Server::start_at(&db, &addr);
    }

    /// The server's canonical export of the puskesmas.
    fn export(&self) -> String {
        admin(
            &self.server,
            &self.token,
            &["export", "--puskesmas", PUSKESMAS],
        )
        .unwrap()
    }

    /// After the faults: every tablet, synced once more, holds byte for byte what the server
    /// holds, and that is exactly `seeded`, each record once.
    fn assert_converged(&self, tablets: &[&Device], seeded: &Census) {
        for tablet in tablets {
            tablet.sync();
        }
        let server = self.export();
        assert_eq!(
            &census(&server),
            seeded,
            "the server holds every seeded record once"
        );
        for tablet in tablets {
            assert_eq!(
                tablet.export().trim_end(),
                server.trim_end(),
                "{} holds what the server holds",
                tablet.db.display()
            );
        }
    }
}

/// How many distinct records each section of an export holds.
type Census = BTreeMap<String, usize>;

/// Counts an export's records by section, asserting that no record appears twice.
fn census(export: &str) -> Census {
    let export: Value = serde_json::from_str(export).expect("the export is JSON");
    let mut counts = Census::new();
    for (section, records) in export.as_object().expect("an export is an object") {
        let Some(records) = records.as_array() else {
            continue; // the format line
        };
        let ids: HashSet<&str> = records
            .iter()
            .map(|r| r["id"].as_str().expect("every record has an id"))
            .collect();
        assert_eq!(
            ids.len(),
            records.len(),
            "{section}: a record appears twice"
        );
        counts.insert(section.clone(), ids.len());
    }
    counts
}

/// What a tablet holds, by export section, from its status.
fn held_by(tablet: &Device) -> Census {
    let status: Value = serde_json::from_str(&tablet.run(&["--json", "status"])).unwrap();
    let section = |kind: &str| match kind {
        "household" => "households",
        "person" => "persons",
        "visit" => "visits",
        "referral" => "referrals",
        "followup" => "followups",
        other => panic!("unknown record kind {other}"),
    };
    status["records"]
        .as_object()
        .expect("status lists records by kind")
        .iter()
        .map(|(kind, n)| (section(kind).to_owned(), n.as_u64().unwrap() as usize))
        .collect()
}

fn total(census: &Census) -> usize {
    census.values().sum()
}

fn seed(tablet: &Device, households: u32) -> Census {
    tablet.run(&[
        "seed",
        "--households",
        &households.to_string(),
        "--today",
        "2026-11-20",
    ]);
    held_by(tablet)
}

/// Starts `cageur-field sync` on a tablet as a process of its own, to be killed or waited on.
fn spawn_sync(tablet: &Device) -> Child {
    Command::new(binary("cageur-field"))
        .arg("--db")
        .arg(&tablet.db)
        .args(["sync", "--page-bytes", PAGE_BYTES, "--attempts", "1"])
        .env("CAGEUR_DB_KEY", KEY_HEX)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cageur-field sync starts")
}

/// Waits until `reached` holds, failing if the sync ends first: the fault must land mid-sync.
fn wait_until(sync: &mut Child, what: &str, reached: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !reached() {
        if let Some(status) = sync.try_wait().unwrap() {
            panic!("the sync ended ({status}) before {what}");
        }
        assert!(Instant::now() < deadline, "waited two minutes for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Waits for a sync that a fault interrupted; it must have failed.
fn assert_failed(sync: Child) {
    let out = sync.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "the sync reported success through the fault"
    );
}

/// The seed of this test's random kill points, printed so that the points can be run again.
fn fault_rng(test: &str) -> StdRng {
    let seed = std::env::var("CAGEUR_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("{test}: CAGEUR_FAULT_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

/// A tablet pushes a few thousand records in several requests; the server is killed as the
/// second request starts. What it had acknowledged stays; the rest arrives at the next sync,
/// once.
fn server_killed_during_a_large_push(store: Store) {
    let mut office = Office::open(store, "kill_push");
    let link = Link::start(office.server.addr());
    let a = office.tablet_via(&link, "TEAM-A", 31);
    let seeded = seed(&a, 600);
    assert!(total(&seeded) > 6_000, "several push requests: {seeded:?}");

    let mut sync = spawn_sync(&a);
    wait_until(&mut sync, "the second push request", || {
        link.posts("/v1/push") >= 2
    });
    office.crash_and_restart();
    assert_failed(sync);

    let held = total(&census(&office.export()));
    assert!(
        held < total(&seeded),
        "the kill landed mid-push: the server held {held} of {}",
        total(&seeded)
    );

    let b = office.tablet("TEAM-B", 32);
    office.assert_converged(&[&a, &b], &seeded);
}

/// A new tablet bootstraps in small pages; the server is killed a few pages in. The pages
/// merged before the kill stay, and the next sync goes on from the cursor.
fn server_killed_during_a_bootstrap(store: Store) {
    let mut office = Office::open(store, "kill_bootstrap");
    let a = office.tablet("TEAM-A", 33);
    let seeded = seed(&a, 300);
    a.sync();

    let link = Link::start(office.server.addr());
    let b = office.tablet_via(&link, "TEAM-B", 34);
    let mut sync = spawn_sync(&b);
    wait_until(&mut sync, "the fifth pull page", || {
        link.posts("/v1/pull") >= 5
    });
    office.crash_and_restart();
    assert_failed(sync);

    let kept = total(&held_by(&b));
    assert!(
        kept > 0 && kept < total(&seeded),
        "pages merged before the kill are kept: {kept} of {}",
        total(&seeded)
    );
    office.assert_converged(&[&a, &b], &seeded);
}

/// Runs `cageur-field sync` on `tablet` again and again, killing it after a random while,
/// until one run completes; returns how many kills landed while it was still syncing.
///
/// The while is drawn from a window that starts short (so that the first kills land early
/// in the sync, whatever the machine's speed) and widens after each kill (so that a run
/// eventually completes even where one request takes long).
fn sync_under_random_kills(tablet: &Device, rng: &mut StdRng) -> u32 {
    let mut kills = 0;
    let mut window_ms = 250.0_f64;
    for _ in 0..40 {
        let mut sync = spawn_sync(tablet);
        let wait = Duration::from_millis(rng.random_range(5..=window_ms as u64));
        window_ms *= 1.25;
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline && sync.try_wait().unwrap().is_none() {
            thread::sleep(Duration::from_millis(1));
        }
        if let Some(status) = sync.try_wait().unwrap() {
            if status.success() {
                eprintln!("{}: {kills} kills mid-sync", tablet.db.display());
                return kills;
            }
            let out = sync.wait_with_output().unwrap();
            panic!(
                "a sync failed without a fault: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        sync.kill().unwrap();
        sync.wait().unwrap();
        kills += 1;
        // A killed sync leaves a file the app opens as it was: nothing damaged.
        tablet.run(&["status"]);
    }
    kills
}

/// The sync process dies (battery out, app killed) at random points of a push and of a
/// bootstrap; the tablet's file stays whole and nothing is lost or counted twice.
fn field_sync_killed_at_random_points(store: Store) {
    let mut rng = fault_rng("field_sync_killed_at_random_points");
    let office = Office::open(store, "kill_field");
    let a = office.tablet("TEAM-A", 35);
    let seeded = seed(&a, 400);
    let kills = sync_under_random_kills(&a, &mut rng);
    assert!(kills > 0, "no kill landed during the push");

    let b = office.tablet("TEAM-B", 36);
    let kills = sync_under_random_kills(&b, &mut rng);
    assert!(kills > 0, "no kill landed during the bootstrap");
    office.assert_converged(&[&a, &b], &seeded);
}

/// The link drops in the middle of a push's body (the server never sees a whole request,
/// and writes nothing), then in the middle of a pull page's body on another tablet.
fn connection_cut_mid_body(store: Store) {
    let office = Office::open(store, "cut_body");
    let up = Link::start(office.server.addr());
    let a = office.tablet_via(&up, "TEAM-A", 37);
    let seeded = seed(&a, 150);
    // The hello is a few hundred bytes; the push body of ~2,000 records is far larger.
    up.cut_up_after(20_000);
    assert!(a.try_sync().is_err(), "the sync ends with the link cut");
    assert!(up.is_down());
    assert_eq!(up.posts("/v1/push"), 1, "the cut came during the push");
    assert_eq!(
        total(&census(&office.export())),
        0,
        "half a request body writes nothing"
    );
    up.restore();
    a.sync();

    let down = Link::start(office.server.addr());
    let b = office.tablet_via(&down, "TEAM-B", 38);
    down.go_down_after(25_000);
    let cut = cageur_e2e::try_field(
        &b.db,
        &["sync", "--page-bytes", PAGE_BYTES, "--attempts", "2"],
        None,
    );
    assert!(cut.is_err(), "the bootstrap ends with the link down");
    assert!(down.is_down());
    down.restore();
    office.assert_converged(&[&a, &b], &seeded);
}

/// At the edge of coverage: 300 ms each way and 40 KB/s. A push and a bootstrap are slow
/// but complete, and nothing times out half-applied.
fn slow_link(store: Store) {
    let office = Office::open(store, "slow_link");
    let link = Link::start(office.server.addr());
    let a = office.tablet_via(&link, "TEAM-A", 39);
    let b = office.tablet_via(&link, "TEAM-B", 40);
    let seeded = seed(&a, 15);
    link.slow(Duration::from_millis(300), 40_000);
    a.sync();
    b.sync();
    assert!(
        link.posts("/v1/push") >= 1 && link.posts("/v1/pull") >= 2,
        "both syncs went through the slow link"
    );
    office.assert_converged(&[&a, &b], &seeded);
}

/// Each scenario, as a test on each store: `server_killed_during_a_large_push::sqlite`, ...
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn sqlite() {
                super::$scenario(super::Store::Sqlite);
            }

            #[test]
            fn postgres() {
                super::$scenario(super::Store::Postgres);
            }
        }
    )*};
}

on_both_stores!(
    server_killed_during_a_large_push,
    server_killed_during_a_bootstrap,
    field_sync_killed_at_random_points,
    connection_cut_mid_body,
    slow_link,
);
