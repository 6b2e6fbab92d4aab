//! `cageur-admin salvage`: a broken or retired tablet's unsynced changes, read from a copy of
//! its database file and pushed to the server on its behalf. A damaged file (pages failing
//! their authentication, a file cut short) is rescued instead: every record that can still be
//! read is pushed whole, and the server keeps what it lacks.

use std::path::Path;

use anyhow::Context;
use cageur_protocol::sync::{
    ChangeGroup, Cursor, MAX_GROUP_RECORDS, MAX_PUSH_RECORDS, PushRequest, RECORD_SCHEMA,
    WireRecord,
};
use field_core::FieldError;
use field_core::rescue::{Rescued, rescue};
use serde_json::json;

use crate::api::Api;
use crate::device_file::{DeviceFile, FileCopy, key_from_env};
use crate::{Cli, progress, show};

/// What the server said of what was sent: groups that changed it, groups it already held.
#[derive(Debug, Default)]
struct Tally {
    changed: u64,
    unchanged: u64,
}

pub fn run(cli: &Cli, api: &Api, path: &Path, force: bool) -> anyhow::Result<()> {
    let outcome =
        DeviceFile::open_copy(path).and_then(|mut file| salvage(cli, api, &mut file, path, force));
    match outcome {
        Err(e) if is_damaged(&e) => rescue_damaged(cli, api, path, force, &e),
        other => other,
    }
}

/// Whether the file itself is damaged (as opposed to a wrong key, the network, the server).
fn is_damaged(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<FieldError>(),
            Some(FieldError::FileDamaged(_))
        )
    })
}

/// The query that tells the server which tablet file this is: it checks that the file is of
/// that device's puskesmas and of this server's database, so that a file from another
/// deployment cannot land under a device number here.
fn file_query(
    force: bool,
    puskesmas: Option<&str>,
    epoch: Option<String>,
) -> Vec<(&'static str, String)> {
    let mut query = vec![("force", force.to_string())];
    if let Some(p) = puskesmas {
        query.push(("puskesmas", p.to_owned()));
    }
    if let Some(epoch) = epoch {
        query.push(("epoch", epoch));
    }
    query
}

fn send(
    api: &Api,
    device: u32,
    query: &[(&str, String)],
    request: &PushRequest,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let merged = api.post_sync(
        &format!("/admin/v1/devices/{device}/salvage"),
        query,
        request,
    )?;
    tally.changed += merged["changed"].as_u64().unwrap_or(0);
    tally.unchanged += merged["unchanged"].as_u64().unwrap_or(0);
    Ok(())
}

/// An intact file: its outbox, the changes the server never acknowledged.
fn salvage(
    cli: &Cli,
    api: &Api,
    file: &mut DeviceFile,
    path: &Path,
    force: bool,
) -> anyhow::Result<()> {
    let device = file.replica.device().number;
    let pending = file.replica.pending_changes()?;
    let bar = progress::bar(cli.json, "salvaging", pending);
    let mut tally = Tally::default();
    let query = file_query(
        force,
        file.replica.device().puskesmas.as_deref(),
        file.replica.sync_status()?.and_then(|s| s.epoch),
    );
    let report = file
        .replica
        .salvage(
            &mut |request| {
                send(api, device, &query, request, &mut tally)
                    .map_err(|e| FieldError::Network(format!("{e:#}")))
            },
            &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            },
        )
        .with_context(|| format!("salvaging device {device}"))?;
    bar.finish_and_clear();
    let out = json!({
        "device": device,
        "damaged": false,
        "groups": report.groups,
        "records": report.records,
        "changed": tally.changed,
        "unchanged": tally.unchanged,
    });
    show(cli, &out, || {
        if report.records == 0 {
            format!("device {device}: nothing unsynced in {}", path.display())
        } else {
            format!(
                "device {device}: salvaged {} records in {} groups; {} groups changed the \
                 server, {} it already held",
                report.records, report.groups, tally.changed, tally.unchanged
            )
        }
    });
    Ok(())
}

/// A damaged file: which changes were unsynced may be unreadable, so every record that can be
/// read is sent whole; the server merges what it already holds to no change.
fn rescue_damaged(
    cli: &Cli,
    api: &Api,
    path: &Path,
    force: bool,
    why: &anyhow::Error,
) -> anyhow::Result<()> {
    let key = key_from_env()?;
    let copy = FileCopy::of(path)?;
    let rescued = rescue(&copy.path, &key)
        .with_context(|| format!("rescuing what is intact of {} ({why:#})", path.display()))?;
    let Some(info) = rescued.device.clone() else {
        anyhow::bail!(
            "{} is damaged where it names its device: nothing can be salvaged under a device \
             number ({why:#})",
            path.display()
        );
    };
    let device = info.number;
    let query = {
        let mut q = file_query(force, info.puskesmas.as_deref(), rescued.epoch.clone());
        q.push(("rescued", "true".into()));
        q
    };
    let bar = progress::bar(cli.json, "rescuing", rescued.records.len() as u64);
    let mut tally = Tally::default();
    let mut sent = 0u64;
    for request in requests(&rescued) {
        send(api, device, &query, &request, &mut tally)
            .with_context(|| format!("salvaging device {device}"))?;
        sent += request
            .groups
            .iter()
            .map(|g| g.records.len() as u64)
            .sum::<u64>();
        bar.set_position(sent);
    }
    bar.finish_and_clear();
    let recovered: serde_json::Map<String, serde_json::Value> = rescued
        .recovered
        .iter()
        .map(|(kind, n)| (kind.to_string(), json!(n)))
        .collect();
    let out = json!({
        "device": device,
        "damaged": true,
        "records": sent,
        "recovered": recovered,
        "damaged_reads": rescued.damaged_reads,
        "undecodable": rescued.undecodable,
        "changed": tally.changed,
        "unchanged": tally.unchanged,
    });
    show(cli, &out, || {
        format!(
            "device {device}: {} is damaged ({why:#}); rescued {sent} intact records, sent \
             whole: {} groups changed the server, {} it already held; {} reads met damage, \
             {} records did not decode",
            path.display(),
            tally.changed,
            tally.unchanged,
            rescued.damaged_reads,
            rescued.undecodable
        )
    });
    Ok(())
}

/// The rescued records as push requests within the protocol's limits, households first (so
/// that their members find them on the server).
fn requests(rescued: &Rescued) -> Vec<PushRequest> {
    rescued
        .records
        .chunks(MAX_PUSH_RECORDS)
        .map(|part| PushRequest {
            schema: RECORD_SCHEMA,
            cursor: Cursor::default(),
            groups: part
                .chunks(MAX_GROUP_RECORDS)
                .zip(0..)
                .map(|(records, n)| ChangeGroup {
                    change_seq: n,
                    records: records
                        .iter()
                        .map(|r| WireRecord {
                            kind: r.kind.code(),
                            id: r.id,
                            state: r.state.clone(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}
