//! `cageur-admin`: what the health office's IT staff do on the sync server. Talks to the
//! server's admin API; the credential comes from `CAGEUR_ADMIN_TOKEN` (made with
//! `cageur-server admin-token`).

mod api;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use api::Api;

#[derive(Debug, Parser)]
#[command(
    name = "cageur-admin",
    version,
    about = "Administer the Cageur Jasa sync server"
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
    /// Tablets.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// A puskesmas's records as canonical JSON, the same bytes `cageur-field export` prints
    /// on a device that holds exactly that scope.
    Export {
        #[arg(long)]
        puskesmas: String,
    },
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
    /// Every device and its sync state.
    List,
    /// Refuse a device from now on.
    Revoke {
        id: u32,
        /// Also tell the device to delete its local data on its next contact.
        #[arg(long)]
        wipe: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
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

fn run(cli: &Cli) -> anyhow::Result<()> {
    let token = std::env::var("CAGEUR_ADMIN_TOKEN")
        .context("set CAGEUR_ADMIN_TOKEN to an admin credential (cageur-server admin-token)")?;
    let api = Api::new(&cli.server, token);
    match &cli.command {
        Command::Puskesmas(PuskesmasCommand::Add { code, name }) => {
            let unit = api.post("/admin/v1/puskesmas", &json!({"code": code, "name": name}))?;
            show(cli, &unit, || {
                format!(
                    "registered puskesmas {}",
                    unit["code"].as_str().unwrap_or("?")
                )
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
                format!("registered team {}", unit["code"].as_str().unwrap_or("?"))
            });
        }
        Command::Device(DeviceCommand::Enroll { team, valid_hours }) => {
            let e = api.post(
                "/admin/v1/devices/enroll",
                &json!({"team": team, "valid_hours": valid_hours}),
            )?;
            show(cli, &e, || {
                format!(
                    "enrollment code {} for team {} (puskesmas {}); works once, until {}",
                    e["code"].as_str().unwrap_or("?"),
                    e["team"].as_str().unwrap_or("?"),
                    e["puskesmas"].as_str().unwrap_or("?"),
                    e["expires_at"]
                )
            });
        }
        Command::Device(DeviceCommand::List) => {
            let devices = api.get("/admin/v1/devices")?;
            show(cli, &devices, || device_table(&devices));
        }
        Command::Device(DeviceCommand::Revoke { id, wipe }) => {
            let d = api.post(
                &format!("/admin/v1/devices/{id}/revoke"),
                &json!({"wipe": wipe}),
            )?;
            show(cli, &d, || {
                format!(
                    "device {id} revoked{}",
                    if *wipe {
                        "; it will wipe its data on its next contact"
                    } else {
                        ""
                    }
                )
            });
        }
        Command::Export { puskesmas } => {
            let bytes = api.get_bytes(&format!("/admin/v1/export?puskesmas={puskesmas}"))?;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(())
}

fn show(cli: &Cli, value: &Value, text: impl FnOnce() -> String) {
    if cli.json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

fn device_table(devices: &Value) -> String {
    let mut out = format!(
        "{:>6}  {:<14} {:<14} {:<8} {:>8}  {:<10}",
        "device", "puskesmas", "team", "state", "pending", "cursor"
    );
    for d in devices.as_array().into_iter().flatten() {
        let state = if d["revoked_at"].is_null() {
            "enrolled"
        } else {
            "revoked"
        };
        out.push_str(&format!(
            "\n{:>6}  {:<14} {:<14} {:<8} {:>8}  {:<10}",
            d["id"],
            d["puskesmas"].as_str().unwrap_or("-"),
            d["team"].as_str().unwrap_or("-"),
            state,
            d["pending"].as_u64().map_or("-".into(), |p| p.to_string()),
            d["cursor"],
        ));
    }
    out
}
