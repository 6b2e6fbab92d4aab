//! `cageur-admin verify`: a tablet's replica against the server's records of its scope,
//! record by record, by digest; every difference with its reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use cageur_protocol::RecordState;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::Api;
use crate::device_file::DeviceFile;
use crate::{Cli, Outcome, progress, render, show};

/// Why a record differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Changed on the tablet, waiting in its outbox: the next sync pushes it.
    NotYetPushed,
    /// Changed on the server after the tablet's cursor: the next sync pulls it.
    NotYetPulled,
    /// On the tablet, and on the server under another puskesmas (the household moved).
    MovedOut,
    /// Neither: the tablet and the server disagree about what they both should hold.
    Diverged,
}

impl Reason {
    fn is_pending(self) -> bool {
        matches!(self, Reason::NotYetPushed | Reason::NotYetPulled)
    }
}

/// Which side holds the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Holder {
    TabletOnly,
    ServerOnly,
    Both,
}

#[derive(Debug, Serialize)]
struct Difference {
    id: Uuid,
    kind: String,
    holder: Holder,
    reason: Reason,
}

/// A server record as `/admin/v1/records` returns it.
struct ServerRecord {
    puskesmas: String,
    seq: u64,
    state: Vec<u8>,
}

fn fetch_records(api: &Api, ids: &[Uuid]) -> anyhow::Result<HashMap<Uuid, ServerRecord>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(1000) {
        let found = api.post("/admin/v1/records", &json!({ "ids": chunk }))?;
        for r in found.as_array().into_iter().flatten() {
            let id: Uuid = serde_json::from_value(r["id"].clone()).context("a record id")?;
            out.insert(
                id,
                ServerRecord {
                    puskesmas: render::text(&r["puskesmas"]),
                    seq: r["seq"].as_u64().unwrap_or(0),
                    state: hex::decode(r["state"].as_str().unwrap_or(""))
                        .context("a record's state")?,
                },
            );
        }
    }
    Ok(out)
}

pub fn run(cli: &Cli, api: &Api, path: &Path, allow_pending: bool) -> anyhow::Result<Outcome> {
    let file = DeviceFile::open_copy(path)?;
    let replica = &file.replica;
    let device = replica.device().clone();
    let puskesmas = device
        .puskesmas
        .clone()
        .context("the tablet has no puskesmas: it was never enrolled")?;
    let cursor = replica.sync_status()?.map_or(0, |s| s.cursor);
    let pending: HashSet<Uuid> = replica.pending_ids()?;
    let mine: BTreeMap<Uuid, (String, String)> = replica
        .record_digests()?
        .into_iter()
        .map(|d| (d.id, (d.kind.to_string(), d.digest)))
        .collect();

    let bar = progress::bar(cli.json, "comparing", mine.len() as u64);
    let mut theirs: BTreeMap<Uuid, (String, u64, String)> = BTreeMap::new();
    let mut after: Option<Uuid> = None;
    loop {
        let mut query = vec![("puskesmas", puskesmas.clone())];
        if let Some(a) = after {
            query.push(("after", a.to_string()));
        }
        let page = api.get_query("/admin/v1/digests", &query)?;
        for r in page["records"].as_array().into_iter().flatten() {
            let id: Uuid = serde_json::from_value(r["id"].clone()).context("a digest's id")?;
            let kind = r["kind"]
                .as_u64()
                .and_then(|k| u8::try_from(k).ok())
                .and_then(cageur_model::RecordKind::from_code)
                .map_or_else(|| "?".to_owned(), |k| k.to_string());
            theirs.insert(
                id,
                (
                    kind,
                    r["seq"].as_u64().unwrap_or(0),
                    render::text(&r["digest"]),
                ),
            );
        }
        bar.set_position(theirs.len().min(mine.len()) as u64);
        match page["next"].as_str() {
            Some(next) => after = Some(next.parse().context("a digest page's next id")?),
            None => break,
        }
    }
    bar.finish_and_clear();

    let mut to_fetch = Vec::new();
    for (id, (_, digest)) in &mine {
        match theirs.get(id) {
            Some((_, _, d)) if d == digest => {}
            _ => to_fetch.push(*id),
        }
    }
    let server = fetch_records(api, &to_fetch)?;
    let mut differences = Vec::new();
    for id in to_fetch {
        let (kind, _) = &mine[&id];
        let in_outbox = pending.contains(&id);
        let (holder, reason) = match (theirs.get(&id), server.get(&id)) {
            (Some(_), Some(s)) => {
                let here = replica.state_bytes(id)?.map(|(_, b)| b).unwrap_or_default();
                let (here, there) = (RecordState::decode(&here)?, RecordState::decode(&s.state)?);
                let reason = if in_outbox && here.contains(&there) {
                    Reason::NotYetPushed
                } else if there.contains(&here) && s.seq > cursor {
                    Reason::NotYetPulled
                } else if in_outbox && s.seq > cursor {
                    // Both sides changed it: the next sync merges them.
                    Reason::NotYetPushed
                } else {
                    Reason::Diverged
                };
                (Holder::Both, reason)
            }
            (None, Some(s)) if s.puskesmas != puskesmas => (Holder::TabletOnly, Reason::MovedOut),
            _ if in_outbox => (Holder::TabletOnly, Reason::NotYetPushed),
            _ => (Holder::TabletOnly, Reason::Diverged),
        };
        differences.push(Difference {
            id,
            kind: kind.clone(),
            holder,
            reason,
        });
    }
    for (id, (kind, seq, _)) in &theirs {
        if !mine.contains_key(id) {
            let reason = if *seq > cursor {
                Reason::NotYetPulled
            } else {
                Reason::Diverged
            };
            differences.push(Difference {
                id: *id,
                kind: kind.clone(),
                holder: Holder::ServerOnly,
                reason,
            });
        }
    }
    let mut counts: BTreeMap<Reason, usize> = BTreeMap::new();
    for d in &differences {
        *counts.entry(d.reason).or_default() += 1;
    }
    let agree = differences
        .iter()
        .all(|d| allow_pending && d.reason.is_pending());
    let out = json!({
        "device": device.number,
        "puskesmas": puskesmas,
        "tablet_records": mine.len(),
        "server_records": theirs.len(),
        "cursor": cursor,
        "agree": agree,
        "counts": counts.iter().map(|(r, n)| (serde_json::to_value(r).unwrap_or(Value::Null).as_str().unwrap_or("?").to_owned(), *n)).collect::<BTreeMap<_, _>>(),
        "differences": differences,
    });
    show(cli, &out, || {
        let mut text = format!(
            "device {} ({puskesmas}): {} records on the tablet, {} on the server; ",
            device.number,
            mine.len(),
            theirs.len()
        );
        if differences.is_empty() {
            text.push_str("they agree, record by record");
            return text;
        }
        text.push_str(&format!(
            "{} differ{}",
            differences.len(),
            if agree {
                " (only changes still to sync)"
            } else {
                ""
            }
        ));
        for (reason, n) in &counts {
            text.push_str(&format!("\n  {:<16} {n}", format!("{reason:?}")));
        }
        for d in differences.iter().take(50) {
            text.push_str(&format!(
                "\n  {:<9} {}  {:?}, {:?}",
                d.kind, d.id, d.holder, d.reason
            ));
        }
        if differences.len() > 50 {
            text.push_str(&format!(
                "\n  ... and {} more (--json lists all)",
                differences.len() - 50
            ));
        }
        text
    });
    Ok(if agree { Outcome::Done } else { Outcome::No })
}
