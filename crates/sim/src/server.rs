//! The server in the simulation: the real `cageur-server` application (axum router, auth,
//! body codec, the SQLite store on a real file), called in-process, one request at a time.
//! It can be restarted, and restored from an older backup of its file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use cageur_protocol::sync::{
    BODY_CONTENT_TYPE, HelloResponseV2, MAX_BODY_BYTES, PROTOCOL_HEADER, PROTOCOL_VERSION,
    PushRequest,
};
use sync_server::{AppState, SqliteStore, Store};
use tower::ServiceExt;

/// The server: its store's file, and the running application while it is up.
pub struct SimServer {
    path: PathBuf,
    backup: PathBuf,
    runtime: tokio::runtime::Runtime,
    up: Option<(Arc<dyn Store>, axum::Router)>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The files of an SQLite database: the file, its write-ahead log, its shared memory index.
fn files(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_owned(), with("-wal"), with("-shm")]
}

impl SimServer {
    /// A new server whose store lives in `dir`.
    pub fn start(dir: &Path) -> anyhow::Result<SimServer> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut server = SimServer {
            path: dir.join("server.db"),
            backup: dir.join("backup.db"),
            runtime,
            up: None,
        };
        server.open()?;
        Ok(server)
    }

    fn open(&mut self) -> anyhow::Result<()> {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&self.path)?);
        let router = sync_server::routes::router(Arc::new(AppState {
            store: store.clone(),
        }));
        self.up = Some((store, router));
        Ok(())
    }

    /// The store, for the health office's set-up and for the checks.
    pub fn store(&self) -> &dyn Store {
        &*self.up.as_ref().expect("the server is up").0
    }

    /// A request to the server, as HTTP would bring it; the answer's status and body.
    pub fn call(&mut self, path: &str, credential: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
        if crate::tracing_on()
            && path == "/v1/push"
            && let Ok(req) = cageur_protocol::sync::decode_body::<PushRequest>(body)
        {
            for g in &req.groups {
                for r in &g.records {
                    eprintln!(
                        "      push {} kind {} {} bytes, cursor {}",
                        r.id,
                        r.kind,
                        r.state.len(),
                        req.cursor.seq
                    );
                }
            }
        }
        let (_, router) = self.up.as_ref().expect("the server is up");
        let mut request = Request::post(path)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .header("content-type", BODY_CONTENT_TYPE);
        if let Some(c) = credential {
            request = request.header("authorization", format!("Bearer {c}"));
        }
        let request = request
            .body(Body::from(body.to_vec()))
            .expect("a valid request");
        let router = router.clone();
        let out = self.runtime.block_on(async move {
            let response = router.oneshot(request).await.expect("the router answers");
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES)
                .await
                .expect("the answer is within the limit");
            (status, bytes.to_vec())
        });
        if crate::tracing_on()
            && path == "/v1/hello"
            && out.0 == 200
            && let Ok(h) = cageur_protocol::sync::decode_body::<HelloResponseV2>(&out.1)
        {
            eprintln!(
                "      hello: seq {}, timeline changed {}",
                h.seq, h.timeline_changed
            );
        }
        out
    }

    /// Stops the server (nothing but what is committed survives) and starts it again.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.up = None;
        self.open()
    }

    /// Takes a backup of the store (stopped, files copied, started again).
    pub fn back_up(&mut self) -> anyhow::Result<()> {
        self.up = None;
        for (from, to) in files(&self.path).iter().zip(files(&self.backup)) {
            if from.exists() {
                std::fs::copy(from, to)?;
            } else if to.exists() {
                std::fs::remove_file(to)?;
            }
        }
        self.open()
    }

    /// Restores the last backup over the store, as after a disk failure: whatever the server
    /// accepted since is gone. Returns `false` (nothing done) if there is no backup.
    pub fn restore_backup(&mut self) -> anyhow::Result<bool> {
        if !self.backup.exists() {
            return Ok(false);
        }
        self.up = None;
        for (from, to) in files(&self.backup).iter().zip(files(&self.path)) {
            if from.exists() {
                std::fs::copy(from, to)?;
            } else if to.exists() {
                std::fs::remove_file(to)?;
            }
        }
        self.open()?;
        Ok(true)
    }
}
