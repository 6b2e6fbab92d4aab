//! `cageur-field`: what the tablet app does, on a device database file, for demos, scripts
//! and tests. The database key comes from `CAGEUR_DB_KEY` (64 hex digits for a raw key,
//! anything else is a passphrase).

mod commands;
mod input;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// A Cageur Jasa device replica on the command line.
#[derive(Debug, Parser)]
#[command(name = "cageur-field", version, about)]
struct Cli {
    /// The device database file.
    #[arg(
        long,
        global = true,
        env = "CAGEUR_DB",
        default_value = "cageur-field.db"
    )]
    db: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the replica of a device in a new database file.
    Init(InitArgs),
    /// Enroll this tablet with the server, using the code the health office gave, and create
    /// its replica in a new database file.
    Enroll {
        /// The sync server's URL.
        #[arg(long, env = "CAGEUR_SERVER")]
        server: String,
        /// The enrollment code (as printed by cageur-admin device enroll).
        #[arg(long)]
        code: String,
    },
    /// Push this device's changes, then pull its puskesmas's.
    Sync {
        /// Largest pull page to ask for, in bytes of record states.
        #[arg(long)]
        page_bytes: Option<u32>,
        /// Attempts per request before giving up.
        #[arg(long, default_value_t = 5)]
        attempts: u32,
    },
    /// Set or show the health worker working on this device now.
    #[command(subcommand)]
    Worker(WorkerCommand),
    /// Households: add (JSON on stdin), update ID (JSON merge patch on stdin), members ID.
    #[command(subcommand)]
    Household(RecordCommand),
    /// People: add (JSON on stdin), update ID (JSON merge patch on stdin).
    #[command(subcommand)]
    Person(RecordCommand),
    /// Visits: record (JSON on stdin: a visit, or {"visit", "referrals", "followups"}).
    #[command(subcommand)]
    Visit(VisitCommand),
    /// Referrals: add (JSON on stdin), update ID (JSON merge patch on stdin).
    #[command(subcommand)]
    Referral(RecordCommand),
    /// Follow-ups: add (JSON on stdin), update ID (JSON merge patch on stdin).
    #[command(subcommand)]
    Followup(RecordCommand),
    /// Show one record, with its conflicts.
    Show { id: String },
    /// Remove a record (a tombstone that syncs).
    Remove { id: String },
    /// Find households by KK number or area, people by NIK or name.
    Search(commands::SearchArgs),
    /// What to do today: households never visited or due again, follow-ups due, open referrals.
    Worklist(commands::WorklistArgs),
    /// Unresolved same-field conflicts.
    Conflicts,
    /// Resolve a conflict: keep one candidate, or write another value.
    Resolve(commands::ResolveArgs),
    /// Possible duplicates: the same KK number or NIK registered twice.
    Duplicates,
    /// Merge a duplicate record into the one to keep.
    Merge { keep: String, drop: String },
    /// The device, its pending changes and its records at a glance.
    Status,
    /// The whole replica as canonical JSON.
    Export {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Fill the replica with realistic synthetic data, deterministic for a seed.
    Seed(commands::SeedArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The device's number among all devices (assigned at enrollment).
    #[arg(long)]
    device: u32,
    /// The puskesmas whose records the device holds.
    #[arg(long)]
    puskesmas: Option<String>,
    /// The team that uses the device.
    #[arg(long)]
    team: Option<String>,
}

#[derive(Debug, Subcommand)]
enum WorkerCommand {
    /// Set who is working now.
    Set {
        #[arg(long)]
        id: u32,
        #[arg(long)]
        name: String,
        /// doctor, nurse or midwife.
        #[arg(long)]
        role: String,
    },
    /// Show who is working now.
    Show,
}

#[derive(Debug, Subcommand)]
enum RecordCommand {
    /// Add a record from the JSON object on standard input; prints its id.
    Add,
    /// Change a record with the JSON merge patch on standard input.
    Update { id: String },
    /// List a household's members.
    Members { id: String },
}

#[derive(Debug, Subcommand)]
enum VisitCommand {
    /// Record a visit (with its screenings, referrals and follow-ups) from standard input.
    Record,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => output::report_error(&err, json),
    }
}
