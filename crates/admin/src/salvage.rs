//! `cageur-admin salvage`: a broken or retired tablet's unsynced changes, read from a copy of
//! its database file and pushed to the server on its behalf.

use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::api::Api;
use crate::device_file::DeviceFile;
use crate::{Cli, progress, show};

pub fn run(cli: &Cli, api: &Api, path: &Path, force: bool) -> anyhow::Result<()> {
    let mut file = DeviceFile::open_copy(path)?;
    let device = file.replica.device().number;
    let pending = file.replica.pending_changes()?;
    let bar = progress::bar(cli.json, "salvaging", pending);
    let (mut changed, mut unchanged) = (0u64, 0u64);
    // The server checks that the file is of that device's puskesmas and of this server's
    // database: a file from another deployment must not land under a device number here.
    let mut query = vec![("force", force.to_string())];
    if let Some(p) = &file.replica.device().puskesmas {
        query.push(("puskesmas", p.clone()));
    }
    if let Some(epoch) = file.replica.sync_status()?.and_then(|s| s.epoch) {
        query.push(("epoch", epoch));
    }
    let report = file
        .replica
        .salvage(
            &mut |request| {
                let merged = api
                    .post_sync(
                        &format!("/admin/v1/devices/{device}/salvage"),
                        &query,
                        request,
                    )
                    .map_err(|e| field_core::FieldError::Network(format!("{e:#}")))?;
                changed += merged["changed"].as_u64().unwrap_or(0);
                unchanged += merged["unchanged"].as_u64().unwrap_or(0);
                Ok(())
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
        "groups": report.groups,
        "records": report.records,
        "changed": changed,
        "unchanged": unchanged,
    });
    show(cli, &out, || {
        if report.records == 0 {
            format!("device {device}: nothing unsynced in {}", path.display())
        } else {
            format!(
                "device {device}: salvaged {} records in {} groups; {changed} groups changed the \
                 server, {unchanged} it already held",
                report.records, report.groups
            )
        }
    });
    Ok(())
}
