//! `cageur-admin device ...`: tablets, their state, and what the health office asks of them.

use serde_json::json;

use crate::api::Api;
use crate::{Cli, DeviceCommand, Outcome, render, show};

pub fn run(cli: &Cli, api: &Api, command: &DeviceCommand) -> anyhow::Result<Outcome> {
    match command {
        DeviceCommand::Enroll { team, valid_hours } => {
            let e = api.post(
                "/admin/v1/devices/enroll",
                &json!({"team": team, "valid_hours": valid_hours}),
            )?;
            show(cli, &e, || {
                format!(
                    "enrollment code {} for team {} (puskesmas {}); works once, until {}",
                    render::text(&e["code"]),
                    render::text(&e["team"]),
                    render::text(&e["puskesmas"]),
                    render::time(&e["expires_at"])
                )
            });
        }
        DeviceCommand::List {
            puskesmas,
            state,
            lens,
        } => {
            let mut query = lens.query()?;
            if let Some(p) = puskesmas {
                query.push(("puskesmas", p.clone()));
            }
            if let Some(s) = state {
                query.push(("state", s.clone()));
            }
            let devices = api.get_query("/admin/v1/devices", &query)?;
            show(cli, &devices, || render::devices(&devices));
        }
        DeviceCommand::Show { id, history, lens } => {
            let mut query = lens.query()?;
            query.push(("history", history.to_string()));
            let detail = api.get_query(&format!("/admin/v1/devices/{id}"), &query)?;
            show(cli, &detail, || render::device(&detail));
        }
        DeviceCommand::Resync { id } => {
            let d = api.post(&format!("/admin/v1/devices/{id}/resync"), &json!({}))?;
            show(cli, &d, || {
                format!(
                    "device {id}: resync requested; on its next sync it pushes what it holds, \
                     then rebuilds from the server (`device show {id}` says when it is done)"
                )
            });
        }
        DeviceCommand::Revoke { id, wipe, stolen } => {
            let d = api.post(
                &format!("/admin/v1/devices/{id}/revoke"),
                &json!({"wipe": wipe, "stolen": stolen}),
            )?;
            show(cli, &d, || {
                let then = match (*wipe, *stolen) {
                    (true, true) => {
                        "; on its next contact what it pushes is held for review (`device held`), \
                         then it deletes its data"
                    }
                    (true, false) => {
                        "; on its next contact it pushes what it holds, then deletes its data"
                    }
                    _ => "",
                };
                format!("device {id} revoked{then}")
            });
        }
        DeviceCommand::Replace {
            old,
            team,
            valid_hours,
            wipe,
        } => {
            let r = api.post(
                &format!("/admin/v1/devices/{old}/replace"),
                &json!({"team": team, "valid_hours": valid_hours, "wipe": wipe}),
            )?;
            show(cli, &r, || {
                let e = &r["enrollment"];
                format!(
                    "device {old} revoked; the replacement's enrollment code is {} (team {}, \
                     valid until {}).\nPrepare it at the office with:\n  cageur-admin rebuild \
                     --device-db NEW.db --code {}",
                    render::text(&e["code"]),
                    render::text(&e["team"]),
                    render::time(&e["expires_at"]),
                    render::text(&e["code"])
                )
            });
        }
        DeviceCommand::Held { id, accept } => {
            if *accept {
                let m = api.post(&format!("/admin/v1/devices/{id}/held/accept"), &json!({}))?;
                show(cli, &m, || {
                    format!(
                        "merged {} records in {} groups held of device {id} ({} changed the server)",
                        m["records"], m["groups"], m["changed"]
                    )
                });
            } else {
                let held = api.get(&format!("/admin/v1/devices/{id}/held"))?;
                show(cli, &held, || {
                    let mut out = format!(
                        "{:>4}  {:<16} {:>8}  {}",
                        "id", "received", "records", "accepted"
                    );
                    for h in held.as_array().into_iter().flatten() {
                        out.push_str(&format!(
                            "\n{:>4}  {:<16} {:>8}  {}",
                            h["id"],
                            render::time(&h["received_at"]),
                            h["records"],
                            render::time(&h["accepted_at"])
                        ));
                    }
                    out
                });
            }
        }
    }
    Ok(Outcome::Done)
}
