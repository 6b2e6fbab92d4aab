//! A real `cageur-server` inside the benchmark process, on a loopback port: the devices talk
//! to it over HTTP exactly as tablets do, while the benchmark can still reach its store.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use field_core::sync::RetryPolicy;
use field_core::{OpenOptions, Replica};
use sync_server::store::{Store, StoreError};
use sync_server::{StoreUrl, open_store, serve};
use tempfile::TempDir;

use crate::{Result, db, family};

/// A running server; stopped when dropped.
#[derive(Debug)]
pub struct BenchServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub store: Arc<dyn Store>,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: Option<TempDir>,
}

impl BenchServer {
    /// A server on a new SQLite store in a temp dir.
    pub fn sqlite() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let store = open_store(&StoreUrl::Sqlite(dir.path().join("server.db")))?;
        Self::start(store, Some(dir))
    }

    /// A server on the (empty) PostgreSQL database `url`.
    pub fn postgres(url: &str) -> Result<Self> {
        Self::start(open_store(&StoreUrl::Postgres(url.into()))?, None)
    }

    fn start(store: Arc<dyn Store>, dir: Option<TempDir>) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = store.clone();
        runtime.spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = serve(listener, served, shutdown).await {
                eprintln!("bench server failed: {e:#}");
            }
        });
        store.add_puskesmas(family::PUSKESMAS, "Cipondoh")?;
        Ok(Self {
            url,
            store,
            runtime,
            stop: Some(stop),
            _dir: dir,
        })
    }

    /// Registers `team` (if new) and enrolls a tablet of it into a new database at `path`.
    pub fn enroll(&self, team: &str, path: &Path, options: OpenOptions) -> Result<Replica> {
        self.enroll_via(&self.url, family::PUSKESMAS, team, path, options)
    }

    /// Registers `team` of `puskesmas` (if new) and enrolls a tablet of it that talks to the
    /// server at `url` (the server itself, or a proxy in front of it).
    pub fn enroll_via(
        &self,
        url: &str,
        puskesmas: &str,
        team: &str,
        path: &Path,
        options: OpenOptions,
    ) -> Result<Replica> {
        match self.store.add_team(team, puskesmas, team) {
            // A second tablet of a team is fine; the team itself is registered once.
            Ok(_) | Err(StoreError::Refused(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let enrollment = self
            .store
            .create_enrollment(team, Duration::from_secs(3600))?;
        Ok(Replica::enroll(
            path,
            &db::key(),
            url,
            &enrollment.code,
            options,
            RetryPolicy::default(),
        )?)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Lets the server finish its shutdown before the runtime goes.
        self.runtime
            .block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    }
}
