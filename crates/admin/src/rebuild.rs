//! `cageur-admin rebuild`: a fresh, ready-to-use tablet database built from the server, to
//! prepare a replacement at the office over a fast link. Run again, it goes on where an
//! interrupted one stopped (the pull resumes from the cursor the file keeps).

use std::path::Path;

use anyhow::{Context, bail};
use field_core::sync::{Phase, RetryPolicy, SyncOptions};
use field_core::{OpenOptions, Replica};
use serde_json::json;

use crate::api::Api;
use crate::device_file::key_from_env;
use crate::{Cli, progress, render, show};

pub fn run(
    cli: &Cli,
    api: &Api,
    path: &Path,
    team: Option<&str>,
    code: Option<&str>,
    device_server: Option<&str>,
) -> anyhow::Result<()> {
    let key = key_from_env()?;
    let resumed = path.exists();
    let mut replica = if resumed {
        Replica::open(path, &key, OpenOptions::default())
            .with_context(|| format!("opening {} to go on with its rebuild", path.display()))?
    } else {
        let code = match (code, team) {
            (Some(code), _) => code.to_owned(),
            (None, Some(team)) => {
                let e = api.post("/admin/v1/devices/enroll", &json!({"team": team}))?;
                render::text(&e["code"])
            }
            (None, None) => bail!("give --team (to enroll a new device) or --code"),
        };
        let server = device_server.unwrap_or(&cli.server);
        Replica::enroll(
            path,
            &key,
            server,
            &code,
            OpenOptions::default(),
            RetryPolicy::default(),
        )
        .with_context(|| format!("enrolling a new tablet in {}", path.display()))?
    };
    let bar = progress::bar(cli.json, "pulling", 0);
    let report = replica
        .sync(&SyncOptions::default(), &mut |p| {
            if p.phase == Phase::Pull {
                bar.set_length(p.total);
                bar.set_position(p.done);
            }
        })
        .with_context(|| format!("pulling the scope into {}", path.display()))?;
    bar.finish_and_clear();
    let device = replica.device();
    let out = json!({
        "device": device.number,
        "puskesmas": device.puskesmas,
        "team": device.team,
        "db": path,
        "pulled": report.pulled,
        "resumed": resumed,
    });
    show(cli, &out, || {
        format!(
            "{} is ready: device {} of team {} ({} records pulled{}). The first health worker \
             to sign in sets the current worker.",
            path.display(),
            device.number,
            device.team.as_deref().unwrap_or("-"),
            report.pulled,
            if resumed {
                ", going on from before"
            } else {
                ""
            }
        )
    });
    Ok(())
}
