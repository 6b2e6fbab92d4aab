//! A PostgreSQL database of a test's own: created on the local server, dropped when the test
//! ends, pass or fail.

use std::sync::atomic::{AtomicU32, Ordering};

/// Where the tests' PostgreSQL server is, without a database name; `CAGEUR_TEST_PG` overrides.
pub fn server_url() -> String {
    std::env::var("CAGEUR_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
        .trim_end_matches('/')
        .to_owned()
}

/// A fresh, empty database, dropped (with any connections still open to it) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    /// `postgres://…/NAME`, to give a store or `--db`.
    pub url: String,
}

impl TestDatabase {
    /// Creates the database. Panics, saying how to start PostgreSQL, if it cannot: a test that
    /// needs PostgreSQL never passes without it.
    pub fn create(label: &str) -> TestDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "cageur_{label}_{}_{}_{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        admin_client()
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        TestDatabase {
            url: format!("{}/{name}", server_url()),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let dropped =
            postgres::Client::connect(&maintenance_url(), postgres::NoTls).and_then(|mut c| {
                c.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                ))
            });
        if let Err(e) = dropped {
            // Panicking here during an unwind would abort and hide the test's own failure.
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

fn maintenance_url() -> String {
    format!("{}/postgres", server_url())
}

fn admin_client() -> postgres::Client {
    let url = maintenance_url();
    postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "this test needs PostgreSQL at {url} and cannot reach it ({e}). Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or \
             point CAGEUR_TEST_PG at another server (postgres://USER@HOST:PORT, no database)"
        )
    })
}
