//! The Cageur Jasa sync server: merges what devices push and serves each device the changes
//! of its puskesmas. See docs/protocol.md for the exchange and docs/architecture.md for the
//! map of the code.

pub mod auth;
pub mod body;
pub mod error;
pub mod routes;
pub mod schema_support;
pub mod state;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

pub use state::AppState;
pub use store::SqliteStore;

/// Where the store is, parsed from `--db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite:PATH`: an embedded SQLite file.
    Sqlite(PathBuf),
}

impl std::str::FromStr for StoreUrl {
    type Err = anyhow::Error;

    fn from_str(url: &str) -> anyhow::Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                bail!("--db sqlite: needs a file path, as in sqlite:./data/cageur.db");
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        bail!("--db must be sqlite:PATH (PostgreSQL comes as postgres://...), not {url:?}")
    }
}

/// Opens the store the URL names, running its migrations.
pub fn open_store(url: &StoreUrl) -> anyhow::Result<SqliteStore> {
    match url {
        StoreUrl::Sqlite(path) => SqliteStore::open(path)
            .with_context(|| format!("opening the SQLite store {}", path.display())),
    }
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    store: SqliteStore,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = Arc::new(AppState {
        store: Arc::new(store),
    });
    let app = routes::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving")
}
