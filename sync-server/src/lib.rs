//! The Cageur Jasa sync server: merges what devices push and serves each device the changes
//! of its puskesmas. See docs/protocol.md for the exchange and docs/architecture.md for the
//! map of the code.

pub mod auth;
pub mod body;
pub mod error;
pub mod fleet;
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
pub use store::{PgStore, SqliteStore, Store};

/// Where the store is, parsed from `--db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite:PATH`: an embedded SQLite file.
    Sqlite(PathBuf),
    /// `postgres://…` (or `postgresql://…`): a PostgreSQL database, kept as given.
    Postgres(String),
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
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(url.to_owned()));
        }
        bail!("--db must be sqlite:PATH or postgres://USER@HOST:PORT/DATABASE")
    }
}

/// Opens the store the URL names, running its migrations.
///
/// Call it outside the async runtime: the PostgreSQL client blocks.
pub fn open_store(url: &StoreUrl) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match url {
        StoreUrl::Sqlite(path) => Arc::new(
            SqliteStore::open(path)
                .with_context(|| format!("opening the SQLite store {}", path.display()))?,
        ),
        // The URL may carry a password: it is never printed.
        StoreUrl::Postgres(url) => {
            Arc::new(PgStore::open(url).context("opening the PostgreSQL store")?)
        }
    })
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = Arc::new(AppState { store });
    let app = routes::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving")
}
