//! `cageur-admin`: what the health office's IT staff do on the sync server and with the
//! tablets' database files. Talks to the server's admin API; the credential comes from
//! `CAGEUR_ADMIN_TOKEN` (made with `cageur-server admin-token --name WHO`), a tablet file's key
//! from `CAGEUR_DB_KEY`.
//!
//! Every command prints a table for people and, with `--json`, JSON for scripts. Exit codes:
//! 0 success; 1 failure; 2 bad usage; 3 the answer is "no" (`verify`: the tablet and the
//! server disagree).

mod api;
mod device_file;
mod devices;
mod export;
mod progress;
mod rebuild;
mod render;
mod salvage;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use api::Api;

#[derive(Debug, Parser)]
#[command(
    name = "cageur-admin",
    version,
    about = "Administer the Cageur Jasa sync server and its tablets"
)]
struct Cli {
    /// The sync server's URL.
    #[arg(
        long,
        global = true,
        env = "CAGEUR_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Puskesmas (primary health centres).
    #[command(subcommand)]
    Puskesmas(PuskesmasCommand),
    /// Teams of a puskesmas.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Tablets: their sync state, and what the health office asks of them.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The whole service at a glance: devices per state, changes per day, store size, and
    /// the tablets whose data is most at risk.
    Status {
        /// How many of the tablets most at risk to list.
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[command(flatten)]
        lens: Lens,
    },
    /// Push a broken or retired tablet's unsynced changes to the server on its behalf, read
    /// from its database file (key from CAGEUR_DB_KEY). Safe to run again: salvaging twice
    /// adds nothing.
    Salvage {
        /// The tablet's database file (its -wal file beside it is read too).
        #[arg(long)]
        device_db: PathBuf,
        /// Salvage a tablet revoked as stolen (its file may have been altered: review first).
        #[arg(long)]
        force: bool,
    },
    /// Compare a tablet's records with the server's, record by record, and say what differs
    /// and why. Exit code 3 when they disagree.
    Verify {
        /// The tablet's database file (key from CAGEUR_DB_KEY).
        #[arg(long)]
        device_db: PathBuf,
        /// Changes not pushed or not pulled yet count as agreement.
        #[arg(long)]
        allow_pending: bool,
    },
    /// Build a ready-to-use tablet database from the server (to prepare a replacement at
    /// the office over a fast link). Run it again to go on after an interruption.
    Rebuild {
        /// The database file to create (key from CAGEUR_DB_KEY).
        #[arg(long)]
        device_db: PathBuf,
        /// Enroll a new device of this team for it.
        #[arg(long, conflicts_with = "code")]
        team: Option<String>,
        /// Or use an enrollment code made before (`device enroll`, `device replace`).
        #[arg(long)]
        code: Option<String>,
        /// The server URL the tablet will sync with, if not --server.
        #[arg(long)]
        device_server: Option<String>,
    },
    /// Unresolved conflicts of a puskesmas, the least recently written first.
    Conflicts {
        #[arg(long)]
        puskesmas: String,
    },
    /// A puskesmas's households, people, visits, referrals and follow-ups.
    Export {
        #[arg(long)]
        puskesmas: String,
        /// json: the canonical export, the same bytes `cageur-field export` prints on a
        /// tablet that holds exactly that scope; csv: one file per kind, in --out.
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// Where to write: a file for json (stdout if absent), a directory for csv. Written
        /// beside and renamed when complete, so an interrupted export leaves nothing half.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Screening forms.
    #[command(subcommand)]
    Forms(FormsCommand),
    /// What admin credentials did, and what devices reported doing, newest first.
    Audit {
        /// Only what concerns this device.
        #[arg(long)]
        device: Option<u32>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    Json,
    Csv,
}

/// Which day to look at the fleet on, and when a tablet counts as stale.
#[derive(Debug, Clone, Args)]
struct Lens {
    /// Look as of this time (RFC 3339, or YYYY-MM-DD for midnight UTC) instead of now.
    #[arg(long)]
    as_of: Option<String>,
    /// Days without a successful sync after which a tablet is stale (default 3).
    #[arg(long)]
    stale_days: Option<i64>,
}

impl Lens {
    /// The query string parameters the server reads.
    fn query(&self) -> anyhow::Result<Vec<(&'static str, String)>> {
        let mut out = Vec::new();
        if let Some(at) = &self.as_of {
            out.push(("as_of", parse_time(at)?.to_string()));
        }
        if let Some(days) = self.stale_days {
            out.push(("stale_days", days.to_string()));
        }
        Ok(out)
    }
}

fn parse_time(text: &str) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("--as-of {text:?} is neither RFC 3339 nor YYYY-MM-DD"))?;
    Ok(day
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp())
}

#[derive(Debug, Subcommand)]
enum PuskesmasCommand {
    /// Register a puskesmas.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum TeamCommand {
    /// Register a team of a puskesmas.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        puskesmas: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Create a one-time enrollment code for a new tablet of a team.
    Enroll {
        #[arg(long)]
        team: String,
        /// Hours the code stays valid.
        #[arg(long, default_value_t = 72)]
        valid_hours: u64,
    },
    /// Every device with its state: healthy, stale, never synced, resync requested, revoked,
    /// wipe pending, wiped.
    List {
        #[arg(long)]
        puskesmas: Option<String>,
        /// Only devices in this state (healthy, stale, never_synced, resync_requested,
        /// revoked, wipe_pending, wiped).
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        lens: Lens,
    },
    /// One device in detail, with its recent syncs and what was done to it.
    Show {
        id: u32,
        /// How many recent syncs to show.
        #[arg(long, default_value_t = 20)]
        history: u32,
        #[command(flatten)]
        lens: Lens,
    },
    /// On its next sync the tablet pushes every change not acknowledged yet, then rebuilds
    /// its replica from the server.
    Resync { id: u32 },
    /// Refuse a tablet from now on.
    Revoke {
        id: u32,
        /// Tell it to delete its local data on its next contact, after pushing what it holds.
        #[arg(long)]
        wipe: bool,
        /// It was stolen: what it pushes is held for review, not merged (needs --wipe).
        #[arg(long, requires = "wipe")]
        stolen: bool,
    },
    /// Enroll a replacement tablet for a team and revoke the old one, in one step; prints
    /// the new tablet's enrollment code.
    Replace {
        old: u32,
        #[arg(long)]
        team: String,
        #[arg(long, default_value_t = 72)]
        valid_hours: u64,
        /// The old tablet is still out there: tell it to push what it holds and wipe.
        #[arg(long)]
        wipe: bool,
    },
    /// Pushes of a tablet revoked as stolen, held for review.
    Held {
        id: u32,
        /// Merge them (after review); accepting twice adds nothing.
        #[arg(long)]
        accept: bool,
    },
}

#[derive(Debug, Subcommand)]
enum FormsCommand {
    /// Publish a new version of a screening form definition (a JSON file): tablets receive
    /// it on their next sync and use it for new visits; visits already recorded keep theirs.
    Publish { file: PathBuf },
    /// The forms published so far.
    List,
}

/// How a command ended, for the exit code.
enum Outcome {
    Done,
    /// The command's answer is "no" (exit 3).
    No,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::No) => ExitCode::from(3),
        Err(e) => {
            if cli.json {
                println!("{}", json!({"error": format!("{e:#}")}));
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<Outcome> {
    let token = std::env::var("CAGEUR_ADMIN_TOKEN")
        .context("set CAGEUR_ADMIN_TOKEN to an admin credential (cageur-server admin-token)")?;
    let api = Api::new(&cli.server, token);
    match &cli.command {
        Command::Puskesmas(PuskesmasCommand::Add { code, name }) => {
            let unit = api.post("/admin/v1/puskesmas", &json!({"code": code, "name": name}))?;
            show(cli, &unit, || {
                format!("registered puskesmas {}", render::text(&unit["code"]))
            });
        }
        Command::Team(TeamCommand::Add {
            code,
            puskesmas,
            name,
        }) => {
            let unit = api.post(
                "/admin/v1/teams",
                &json!({"code": code, "puskesmas": puskesmas, "name": name}),
            )?;
            show(cli, &unit, || {
                format!("registered team {}", render::text(&unit["code"]))
            });
        }
        Command::Device(command) => return devices::run(cli, &api, command),
        Command::Status { top, lens } => {
            let mut query = lens.query()?;
            query.push(("top", top.to_string()));
            let status = api.get_query("/admin/v1/status", &query)?;
            show(cli, &status, || render::status(&status));
        }
        Command::Salvage { device_db, force } => salvage::run(cli, &api, device_db, *force)?,
        Command::Verify {
            device_db,
            allow_pending,
        } => return verify::run(cli, &api, device_db, *allow_pending),
        Command::Rebuild {
            device_db,
            team,
            code,
            device_server,
        } => rebuild::run(
            cli,
            &api,
            device_db,
            team.as_deref(),
            code.as_deref(),
            device_server.as_deref(),
        )?,
        Command::Conflicts { puskesmas } => {
            let list = api.get_query("/admin/v1/conflicts", &[("puskesmas", puskesmas.clone())])?;
            show(cli, &list, || render::conflicts(&list));
        }
        Command::Export {
            puskesmas,
            format,
            out,
        } => export::run(&api, cli.json, puskesmas, *format, out.as_deref())?,
        Command::Forms(FormsCommand::Publish { file }) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let definition: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let form = api.post("/admin/v1/forms", &definition)?;
            show(cli, &form, || {
                format!(
                    "{} form {} version {} (publication {}); tablets receive it on their next sync",
                    if form["new"] == true {
                        "published"
                    } else {
                        "already published:"
                    },
                    render::text(&form["id"]),
                    form["version"],
                    form["number"]
                )
            });
        }
        Command::Forms(FormsCommand::List) => {
            let forms = api.get("/admin/v1/forms")?;
            show(cli, &forms, || render::forms(&forms));
        }
        Command::Audit { device, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(d) = device {
                query.push(("device", d.to_string()));
            }
            let log = api.get_query("/admin/v1/audit", &query)?;
            show(cli, &log, || render::audit(&log["entries"]));
        }
    }
    Ok(Outcome::Done)
}

/// Prints `value` as JSON with `--json`, else the text for people.
fn show(cli: &Cli, value: &Value, text: impl FnOnce() -> String) {
    if cli.json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}
