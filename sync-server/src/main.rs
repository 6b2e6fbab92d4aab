//! `cageur-server`: the sync service's command line.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use sync_server::{StoreUrl, open_store, serve};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "cageur-server", version, about = "The Cageur Jasa sync server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves devices and the admin tool.
    Serve {
        /// Address to listen on (port 0 picks a free one; the address is printed).
        #[arg(long, env = "CAGEUR_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The store: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE.
        #[arg(long, env = "CAGEUR_DB", default_value = "sqlite:./data/cageur.db")]
        db: StoreUrl,
        /// Log line format.
        #[arg(long, env = "CAGEUR_LOG_FORMAT", value_enum, default_value = "text")]
        log_format: LogFormat,
    },
    /// Prints a new admin credential for cageur-admin (kept on the server only as a hash).
    AdminToken {
        /// The store: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE.
        #[arg(long, env = "CAGEUR_DB", default_value = "sqlite:./data/cageur.db")]
        db: StoreUrl,
        /// Who will hold the credential: the audit log names them for what it does.
        #[arg(long, default_value = "admin")]
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            db,
            log_format,
        } => {
            init_logs(log_format);
            let store = open_store(&db)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("listening on {listen}"))?;
                let addr = listener.local_addr()?;
                // The first line of stdout, for scripts and tests that asked for port 0.
                println!("cageur-server listening on http://{addr}");
                tracing::info!(%addr, epoch = %store.epoch(), "serving");
                serve(listener, store, shutdown_signal()).await
            })
        }
        Command::AdminToken { db, name } => {
            let store = open_store(&db)?;
            let token = sync_server::store::admin::create_admin_token(&*store, &name)?;
            println!("{}", token.0);
            Ok(())
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
