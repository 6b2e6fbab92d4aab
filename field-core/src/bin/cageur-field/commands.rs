//! The subcommands, each a thin layer over [`field_core::Replica`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use field_core::model::{
    FollowUp, FollowUpId, Household, Person, Referral, ReferralId, Role, Rule, ValidationError,
    json as model_json,
};
use field_core::seed::{SeedOptions, seed};
use field_core::sync::{RetryPolicy, SyncOptions};
use field_core::{
    DeviceInfo, NewVisit, OpenOptions, Replica, Resolution, SearchQuery, Worker, WorklistFilter,
};
use serde_json::{Value as Json, json};

use crate::input::{id, key_from_env, stdin_json};
use crate::output::{self, say};
use crate::{Cli, Command, RecordCommand, VisitCommand, WorkerCommand};

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// A household's KK number.
    #[arg(long, conflicts_with_all = ["nik", "name", "kelurahan"])]
    kk: Option<String>,
    /// A person's NIK.
    #[arg(long, conflicts_with_all = ["name", "kelurahan"])]
    nik: Option<String>,
    /// Part of a person's name.
    #[arg(long, conflicts_with = "kelurahan")]
    name: Option<String>,
    /// Households of a kelurahan...
    #[arg(long)]
    kelurahan: Option<String>,
    /// ...in this RW...
    #[arg(long, requires = "kelurahan")]
    rw: Option<u16>,
    /// ...and this RT.
    #[arg(long, requires = "kelurahan")]
    rt: Option<u16>,
}

#[derive(Debug, Args)]
pub struct WorklistArgs {
    /// The day to plan (default: today by the device's clock).
    #[arg(long)]
    today: Option<NaiveDate>,
    #[arg(long)]
    kelurahan: Option<String>,
    #[arg(long, requires = "kelurahan")]
    rw: Option<u16>,
    #[arg(long, requires = "kelurahan")]
    rt: Option<u16>,
    /// Most items listed per section.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The record.
    id: String,
    /// The field in conflict, as `conflicts` names it.
    field: String,
    /// Keep candidate N (0 is the value shown now).
    #[arg(long, conflicts_with = "value", required_unless_present = "value")]
    pick: Option<usize>,
    /// Write this JSON value instead.
    #[arg(long)]
    value: Option<String>,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[arg(long, default_value_t = 100)]
    households: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The last day of the generated visit histories (default: today).
    #[arg(long)]
    today: Option<NaiveDate>,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let key = key_from_env()?;
    if let Command::Init(args) = &cli.command {
        let device = DeviceInfo {
            number: args.device,
            puskesmas: args.puskesmas.clone(),
            team: args.team.clone(),
        };
        let replica = Replica::init(&cli.db, &key, device, OpenOptions::default())?;
        if cli.json {
            output::json(&json!({"device": replica.device().number, "db": cli.db}));
        } else {
            say!(
                "initialised device {} in {}",
                replica.device().number,
                cli.db.display()
            );
        }
        return Ok(());
    }
    if let Command::Enroll { server, code } = &cli.command {
        let replica = Replica::enroll(
            &cli.db,
            &key,
            server,
            code,
            OpenOptions::default(),
            RetryPolicy::default(),
        )?;
        let device = replica.device();
        if cli.json {
            output::json(&json!({
                "device": device.number, "puskesmas": device.puskesmas, "team": device.team,
                "server": server, "db": cli.db,
            }));
        } else {
            say!(
                "enrolled as device {} of puskesmas {} (team {}) in {}",
                device.number,
                device.puskesmas.as_deref().unwrap_or("-"),
                device.team.as_deref().unwrap_or("-"),
                cli.db.display()
            );
        }
        return Ok(());
    }
    let mut replica = Replica::open(&cli.db, &key, OpenOptions::default())
        .with_context(|| format!("opening {}", cli.db.display()))?;
    let json_out = cli.json;
    match cli.command {
        Command::Init(_) | Command::Enroll { .. } => unreachable!("handled above"),
        Command::Sync {
            page_bytes,
            attempts,
        } => sync(&mut replica, &cli.db, page_bytes, attempts, json_out)?,
        Command::Worker(WorkerCommand::Set { id, name, role }) => {
            let role = Role::parse(&role).map_err(|e| e.within("role"))?;
            replica.set_worker(&Worker { id, name, role })?;
            print_done(
                json_out,
                json!({"worker": id}),
                &format!("worker {id} is working now"),
            );
        }
        Command::Worker(WorkerCommand::Show) => match replica.current_worker()? {
            Some(w) if json_out => output::json(&w),
            Some(w) => say!("{} ({}, worker {})", w.name, w.role, w.id),
            None => say!("no worker set"),
        },
        Command::Household(cmd) => match cmd {
            RecordCommand::Add => {
                let household: Household = model_json::from_value(stdin_json()?)?;
                print_id(json_out, replica.add_household(&household)?.0);
            }
            RecordCommand::Update { id: text } => update(&mut replica, &text, json_out)?,
            RecordCommand::Members { id: text } => {
                let hits = replica.members(id(&text)?)?;
                if json_out {
                    output::json(&hits);
                } else {
                    let rows = hits
                        .iter()
                        .map(|h| {
                            vec![
                                h.id.to_string(),
                                s(&h.record["name"]),
                                s(&h.record["relation"]),
                                s(&h.record["birth_date"]),
                            ]
                        })
                        .collect::<Vec<_>>();
                    output::table(&["ID", "NAME", "RELATION", "BORN"], &rows);
                }
            }
        },
        Command::Person(cmd) => match cmd {
            RecordCommand::Add => {
                let person: Person = model_json::from_value(stdin_json()?)?;
                print_id(json_out, replica.add_person(&person)?.0);
            }
            RecordCommand::Update { id: text } => update(&mut replica, &text, json_out)?,
            RecordCommand::Members { .. } => not_for("person", "members")?,
        },
        Command::Visit(VisitCommand::Record) => {
            let new = new_visit(&replica, stdin_json()?)?;
            let recorded = replica.record_visit(new)?;
            if json_out {
                output::json(&recorded);
            } else {
                say!("{}", recorded.visit);
            }
        }
        Command::Referral(cmd) => match cmd {
            RecordCommand::Add => {
                let referral: Referral = model_json::from_value(stdin_json()?)?;
                let new: ReferralId = replica.add_referral(referral)?;
                print_id(json_out, new.0);
            }
            RecordCommand::Update { id: text } => update(&mut replica, &text, json_out)?,
            RecordCommand::Members { .. } => not_for("referral", "members")?,
        },
        Command::Followup(cmd) => match cmd {
            RecordCommand::Add => {
                let followup: FollowUp = model_json::from_value(stdin_json()?)?;
                let new: FollowUpId = replica.add_followup(followup)?;
                print_id(json_out, new.0);
            }
            RecordCommand::Update { id: text } => update(&mut replica, &text, json_out)?,
            RecordCommand::Members { .. } => not_for("followup", "members")?,
        },
        Command::Show { id: text } => {
            let view = replica.get(id(&text)?)?;
            output::json(&view);
        }
        Command::Remove { id: text } => {
            let kind = replica.remove(id(&text)?)?;
            print_done(
                json_out,
                json!({"removed": text, "kind": kind}),
                &format!("removed {kind} {text}"),
            );
        }
        Command::Search(args) => search(&replica, args, json_out)?,
        Command::Worklist(args) => worklist(&replica, args, json_out)?,
        Command::Conflicts => {
            let conflicts = replica.conflicts()?;
            if json_out {
                output::json(&conflicts);
            } else {
                let rows = conflicts
                    .iter()
                    .map(|c| {
                        let values: Vec<String> = c
                            .candidates
                            .iter()
                            .enumerate()
                            .map(|(i, v)| {
                                let role = v.role.map_or("?", |r| r.as_str());
                                format!(
                                    "[{i}] {} ({role} {} on device {})",
                                    v.value, v.worker, v.device
                                )
                            })
                            .collect();
                        vec![
                            c.kind.to_string(),
                            c.id.to_string(),
                            c.field.clone(),
                            values.join("  "),
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(&["KIND", "ID", "FIELD", "CANDIDATES (0 is shown)"], &rows);
            }
        }
        Command::Resolve(args) => {
            let resolution = match (args.pick, args.value) {
                (Some(n), _) => Resolution::Pick(n),
                (None, Some(text)) => {
                    Resolution::Value(model_json::parse(&text).map_err(|e| e.within("value"))?)
                }
                (None, None) => unreachable!("clap requires one"),
            };
            replica.resolve(id(&args.id)?, &args.field, resolution)?;
            print_done(
                json_out,
                json!({"resolved": args.id, "field": args.field}),
                "resolved",
            );
        }
        Command::Duplicates => {
            let groups = replica.duplicates()?;
            if json_out {
                output::json(&groups);
            } else {
                let rows = groups
                    .iter()
                    .map(|g| {
                        vec![
                            g.kind.to_string(),
                            g.shared.to_owned(),
                            g.ids
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(" "),
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(&["KIND", "SHARED", "IDS"], &rows);
            }
        }
        Command::Merge { keep, drop } => {
            replica.merge_duplicates(id(&keep)?, id(&drop)?)?;
            print_done(
                json_out,
                json!({"kept": keep, "merged": drop}),
                &format!("merged {drop} into {keep}"),
            );
        }
        Command::Status => status(&replica, json_out)?,
        Command::Export { out } => match out {
            Some(path) => {
                let file =
                    File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                let mut writer = BufWriter::new(file);
                replica.export_to(&mut writer)?;
                writer.flush()?;
            }
            None => {
                let stdout = std::io::stdout();
                let mut writer = BufWriter::new(stdout.lock());
                replica.export_to(&mut writer)?;
                writer.flush()?;
            }
        },
        Command::Seed(args) => {
            let device = replica.device().clone();
            let options = SeedOptions {
                households: args.households,
                seed: args.seed,
                puskesmas: device.puskesmas.unwrap_or_else(|| "P3671050101".to_owned()),
                team: device.team.unwrap_or_else(|| "CPD-01".to_owned()),
                today: args.today.unwrap_or_else(|| replica.now().date_naive()),
            };
            let started = Instant::now();
            let report = seed(&mut replica, &options, &mut |done| {
                if !json_out && done % 1000 == 0 {
                    eprintln!("seeded {done} of {} households", options.households);
                }
            })?;
            let seconds = started.elapsed().as_secs_f64();
            if json_out {
                output::json(&json!({"report": report, "seconds": seconds}));
            } else {
                say!(
                    "seeded {} households, {} people, {} visits, {} referrals, {} follow-ups in {seconds:.1} s",
                    report.households,
                    report.persons,
                    report.visits,
                    report.referrals,
                    report.followups
                );
            }
        }
    }
    Ok(())
}

fn not_for(kind: &str, what: &str) -> anyhow::Result<()> {
    Err(ValidationError::new(
        "",
        Rule::Unknown,
        format!("{what} is not a command for a {kind}"),
    )
    .into())
}

fn s(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

fn print_id(json_out: bool, id: uuid::Uuid) {
    if json_out {
        output::json(&json!({"id": id}));
    } else {
        say!("{id}");
    }
}

fn print_done(json_out: bool, value: Json, text: &str) {
    if json_out {
        output::json(&value);
    } else {
        say!("{text}");
    }
}

fn update(replica: &mut Replica, text: &str, json_out: bool) -> anyhow::Result<()> {
    let record = id(text)?;
    let patch = stdin_json()?;
    let kind = replica.update_json(record, &patch)?;
    print_done(
        json_out,
        json!({"updated": record, "kind": kind}),
        &format!("updated {kind} {record}"),
    );
    Ok(())
}

/// A visit from the input: either `{"visit": .., "referrals": .., "followups": ..}` or a bare
/// visit. The device's team and the current time fill `team` and `visited_at` if absent.
fn new_visit(replica: &Replica, mut input: Json) -> anyhow::Result<NewVisit> {
    if input.get("visit").is_none() {
        input = json!({"visit": input});
    }
    let visit = input["visit"]
        .as_object_mut()
        .ok_or_else(|| ValidationError::new("visit", Rule::Format, "must be an object"))?;
    if !visit.contains_key("team")
        && let Some(team) = &replica.device().team
    {
        visit.insert("team".into(), json!(team));
    }
    if !visit.contains_key("visited_at") {
        visit.insert(
            "visited_at".into(),
            json!(
                replica
                    .now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
            ),
        );
    }
    Ok(model_json::from_value(input)?)
}

fn search(replica: &Replica, args: SearchArgs, json_out: bool) -> anyhow::Result<()> {
    let query = match (args.kk, args.nik, args.name, args.kelurahan) {
        (Some(kk), ..) => SearchQuery::Kk(kk),
        (_, Some(nik), ..) => SearchQuery::Nik(nik),
        (_, _, Some(name), _) => SearchQuery::Name(name),
        (_, _, _, Some(kelurahan)) => SearchQuery::Area {
            kelurahan,
            rw: args.rw,
            rt: args.rt,
        },
        _ => {
            return Err(ValidationError::new(
                "",
                Rule::Required,
                "give --kk, --nik, --name or --kelurahan",
            )
            .into());
        }
    };
    let hits = replica.search(&query)?;
    if json_out {
        output::json(&hits);
        return Ok(());
    }
    let rows = hits
        .iter()
        .map(|h| {
            let r = &h.record;
            let name = if r["name"].is_null() {
                s(&r["head_name"])
            } else {
                s(&r["name"])
            };
            let place = if r["address"].is_null() {
                s(&r["birth_date"])
            } else {
                format!(
                    "{} RW {} RT {}",
                    s(&r["address"]["kelurahan"]),
                    s(&r["address"]["rw"]),
                    s(&r["address"]["rt"])
                )
            };
            vec![h.kind.to_string(), h.id.to_string(), name, place]
        })
        .collect::<Vec<_>>();
    output::table(&["KIND", "ID", "NAME", "WHERE / BORN"], &rows);
    Ok(())
}

fn worklist(replica: &Replica, args: WorklistArgs, json_out: bool) -> anyhow::Result<()> {
    let today = args.today.unwrap_or_else(|| replica.now().date_naive());
    let filter = WorklistFilter {
        kelurahan: args.kelurahan,
        rw: args.rw,
        rt: args.rt,
        limit: Some(args.limit),
    };
    let list = replica.worklist(today, &filter)?;
    if json_out {
        output::json(&list);
        return Ok(());
    }
    let area = |i: &field_core::HouseholdItem| {
        format!(
            "{} RW {} RT {}",
            i.kelurahan.clone().unwrap_or_default(),
            i.rw.unwrap_or_default(),
            i.rt.unwrap_or_default()
        )
    };
    say!("Worklist for {today}\n");
    say!("Open referrals ({}):", list.open_referrals.len());
    let rows = list
        .open_referrals
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.person_name.clone().unwrap_or_default(),
                r.status.map(|s| s.to_string()).unwrap_or_default(),
                if r.urgent {
                    "urgent".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["REFERRAL", "PERSON", "STATUS", ""], &rows);
    say!("\nFollow-ups due ({}):", list.followups_due.len());
    let rows = list
        .followups_due
        .iter()
        .map(|f| {
            vec![
                f.id.to_string(),
                f.person_name.clone().unwrap_or_default(),
                f.due.map(|d| d.to_string()).unwrap_or_default(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["FOLLOW-UP", "PERSON", "DUE"], &rows);
    say!("\nHouseholds due again ({} in all):", list.due_again_total);
    let rows = list
        .due_again
        .iter()
        .map(|h| {
            vec![
                h.id.to_string(),
                h.head_name.clone().unwrap_or_default(),
                area(h),
                h.last_seen.map(|d| d.to_string()).unwrap_or_default(),
                h.due.map(|d| d.to_string()).unwrap_or_default(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["HOUSEHOLD", "HEAD", "AREA", "LAST SEEN", "DUE"], &rows);
    say!(
        "\nHouseholds never visited ({} in all):",
        list.never_visited_total
    );
    let rows = list
        .never_visited
        .iter()
        .map(|h| {
            vec![
                h.id.to_string(),
                h.head_name.clone().unwrap_or_default(),
                area(h),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["HOUSEHOLD", "HEAD", "AREA"], &rows);
    Ok(())
}

fn sync(
    replica: &mut Replica,
    db: &std::path::Path,
    page_bytes: Option<u32>,
    attempts: u32,
    json_out: bool,
) -> anyhow::Result<()> {
    let options = SyncOptions {
        retry: RetryPolicy {
            attempts: attempts.max(1),
            ..RetryPolicy::default()
        },
        page_bytes,
    };
    let started = Instant::now();
    let report = replica.sync(&options, &mut |p| {
        if !json_out && p.total > 0 {
            eprint!("\r{:?} {}/{}   ", p.phase, p.done, p.total);
        }
    })?;
    if !json_out {
        eprintln!();
    }
    if report.wiped {
        // The health office revoked this tablet: its records are deleted; the file goes too
        // (the app also destroys the key).
        for suffix in ["", "-wal", "-shm"] {
            let mut path = db.as_os_str().to_owned();
            path.push(suffix);
            let _ = std::fs::remove_file(std::path::PathBuf::from(path));
        }
    }
    if json_out {
        output::json(&report);
    } else if report.wiped {
        say!(
            "this tablet was revoked by the health office: pushed {} records, then deleted its              data and {}",
            report.pushed,
            db.display()
        );
    } else {
        if let Some(r) = &report.resync {
            say!(
                "rebuilt from the server as the health office asked: {} records ({} replaced,                  {} merged with changes made here, {} set aside)",
                r.records,
                r.replaced,
                r.merged,
                r.set_aside
            );
        }
        if report.forms_received > 0 {
            say!("{} new screening forms received", report.forms_received);
        }
        say!(
            "synced in {:.1} s: pushed {}, pulled {} ({} new here); {} requests, {} bytes up, {} bytes down{}",
            started.elapsed().as_secs_f64(),
            report.pushed,
            report.pulled,
            report.merged,
            report.traffic.round_trips,
            report.traffic.bytes_up,
            report.traffic.bytes_down,
            if report.timeline_reset {
                "; the server had lost history, so everything this device wrote was pushed again"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn status(replica: &Replica, json_out: bool) -> anyhow::Result<()> {
    let device = replica.device();
    let [urgent, clinical, routine] = replica.pending_by_priority()?;
    let counts = replica.counts()?;
    let conflicts = replica.conflicts()?.len();
    let duplicates = replica.duplicates()?.len();
    let worker = replica.current_worker()?;
    let sync = replica.sync_status()?;
    let value = json!({
        "sync": sync,
        "device": device.number,
        "puskesmas": device.puskesmas,
        "team": device.team,
        "worker": worker,
        "schema_version": field_core::SCHEMA_VERSION,
        "pending_changes": {"total": urgent + clinical + routine, "urgent": urgent, "clinical": clinical, "routine": routine},
        "records": counts,
        "conflicts": conflicts,
        "duplicate_groups": duplicates,
    });
    if json_out {
        output::json(&value);
    } else {
        say!(
            "device        {} (puskesmas {}, team {})",
            device.number,
            device.puskesmas.as_deref().unwrap_or("-"),
            device.team.as_deref().unwrap_or("-")
        );
        say!(
            "worker        {}",
            worker.map_or("none".to_owned(), |w| format!("{} ({})", w.name, w.role))
        );
        say!(
            "pending       {} changes ({urgent} urgent, {clinical} clinical, {routine} routine)",
            urgent + clinical + routine
        );
        say!(
            "records       {}",
            counts
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        say!("conflicts     {conflicts}");
        say!("duplicates    {duplicates} groups");
        say!("schema        v{}", field_core::SCHEMA_VERSION);
        match &sync {
            Some(s) => say!(
                "server        {} (last sync {}, cursor {})",
                s.server,
                s.last_sync_at.as_deref().unwrap_or("never"),
                s.cursor
            ),
            None => say!("server        none (not enrolled)"),
        }
    }
    Ok(())
}
