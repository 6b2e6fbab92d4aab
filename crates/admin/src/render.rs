//! Tables for people, from the admin API's JSON. (`--json` prints the JSON itself.)

use serde_json::Value;

/// A JSON string as text, `-` for anything else.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A time in seconds since 1970, as `YYYY-MM-DD HH:MM` UTC.
pub fn time(v: &Value) -> String {
    v.as_i64()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

fn number(v: &Value) -> String {
    v.as_u64().map_or_else(|| "-".into(), |n| n.to_string())
}

/// A state and, for a stale device, since how long.
fn state(d: &Value) -> String {
    let s = text(&d["state"]);
    if s == "stale" {
        format!("stale {}d", d["days_unsynced"])
    } else {
        s
    }
}

pub fn devices(list: &Value) -> String {
    let mut out = format!(
        "{:>6}  {:<12} {:<12} {:<18} {:<16} {:>8} {:>6} {:>8}  {}",
        "device", "puskesmas", "team", "state", "last sync", "pending", "lag", "app", "schema"
    );
    for d in list.as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n{:>6}  {:<12} {:<12} {:<18} {:<16} {:>8} {:>6} {:>8}  {}",
            d["id"].to_string(),
            text(&d["puskesmas"]),
            text(&d["team"]),
            state(d),
            time(&d["last_sync_at"]),
            number(&d["pending"]),
            number(&d["lag"]),
            text(&d["app_version"]),
            number(&d["schema"]),
        ));
    }
    out
}

pub fn device(detail: &Value) -> String {
    let d = &detail["device"];
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<22} {v}\n"));
    line("device", d["id"].to_string());
    line(
        "puskesmas / team",
        format!("{} / {}", text(&d["puskesmas"]), text(&d["team"])),
    );
    line("state", state(d));
    line("enrolled", time(&d["enrolled_at"]));
    line("last seen", time(&d["last_seen_at"]));
    line("last successful sync", time(&d["last_sync_at"]));
    line("days unsynced", d["days_unsynced"].to_string());
    line(
        "pending (urgent, ref.)",
        format!(
            "{} ({}, {})",
            number(&d["pending"]),
            number(&d["pending_urgent"]),
            number(&d["pending_referrals"])
        ),
    );
    line(
        "cursor / lag",
        format!("{} / {} records", d["cursor"], d["lag"]),
    );
    line(
        "app / schema / protocol",
        format!(
            "{} / {} / {}",
            text(&d["app_version"]),
            number(&d["schema"]),
            number(&d["protocol"])
        ),
    );
    if !d["resync_requested_at"].is_null() {
        line("resync requested", time(&d["resync_requested_at"]));
    }
    if !d["resync_done_at"].is_null() {
        line("resync done", time(&d["resync_done_at"]));
    }
    if !d["revoked_at"].is_null() {
        line(
            "revoked",
            format!(
                "{}{}{}",
                time(&d["revoked_at"]),
                if d["wipe"] == true { ", to wipe" } else { "" },
                if d["stolen"] == true { ", stolen" } else { "" }
            ),
        );
    }
    if !d["wiped_at"].is_null() {
        line("wiped", time(&d["wiped_at"]));
    }
    if !d["replaced_by"].is_null() {
        line("replaced by device", d["replaced_by"].to_string());
    }
    out.push_str("\nrecent syncs (as the tablet reported them):\n");
    out.push_str(&format!(
        "  {:<16} {:>7} {:>7} {:>9} {:>9}  {}",
        "reported", "pushed", "pulled", "bytes up", "down", "outcome"
    ));
    let history = detail["history"].as_array().cloned().unwrap_or_default();
    if history.is_empty() {
        out.push_str("\n  none yet");
    }
    for h in &history {
        let outcome = if h["finished"] == true {
            "finished".to_owned()
        } else {
            format!("stopped: {}", text(&h["error"]))
        };
        out.push_str(&format!(
            "\n  {:<16} {:>7} {:>7} {:>9} {:>9}  {}",
            time(&h["at"]),
            h["pushed"].to_string(),
            h["pulled"].to_string(),
            h["bytes_up"].to_string(),
            h["bytes_down"].to_string(),
            outcome
        ));
    }
    if let Some(held) = detail["held"].as_array().filter(|h| !h.is_empty()) {
        out.push_str(&format!("\n\npushes held for review: {}", held.len()));
    }
    out.push_str("\n\naudit:\n");
    out.push_str(&audit(&detail["audit"]));
    out
}

pub fn status(s: &Value) -> String {
    let mut out = format!(
        "at {}: {} devices; {} records; {} store, {:.1} MB\n\ndevices by state:",
        time(&s["at"]),
        s["devices"],
        s["records"],
        text(&s["store"]),
        s["store_bytes"].as_f64().unwrap_or(0.0) / 1e6
    );
    if let Some(by) = s["by_state"].as_object() {
        for (state, n) in by {
            out.push_str(&format!("\n  {state:<18} {n}"));
        }
    }
    out.push_str("\n\nchanges accepted per day (last 14):");
    let days = s["changes_per_day"].as_array().cloned().unwrap_or_default();
    if days.is_empty() {
        out.push_str("\n  none");
    }
    for d in &days {
        out.push_str(&format!("\n  {}  {}", text(&d["day"]), d["changes"]));
    }
    out.push_str("\n\nmost at risk (unsent referral first, then days unsynced x pending):\n");
    out.push_str(&devices(&s["at_risk"]));
    out
}

pub fn audit(entries: &Value) -> String {
    let mut out = format!(
        "  {:<16} {:<20} {:<14} {:>6}  {}",
        "at", "who", "action", "device", "what"
    );
    for e in entries.as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n  {:<16} {:<20} {:<14} {:>6}  {}",
            time(&e["at"]),
            text(&e["actor"]),
            text(&e["action"]),
            text(&e["device"]),
            text(&e["detail"])
        ));
    }
    out
}

pub fn conflicts(list: &Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "no unresolved conflicts".into();
    }
    let mut out = format!(
        "{} unresolved conflicts, least recently written first:",
        items.len()
    );
    for c in &items {
        out.push_str(&format!(
            "\n  {} {} (seq {}): {}",
            text(&c["kind"]),
            text(&c["id"]),
            c["seq"],
            text(&c["field"])
        ));
        for (i, v) in c["candidates"].as_array().into_iter().flatten().enumerate() {
            out.push_str(&format!(
                "\n      {} {} by worker {} ({}) on device {}",
                if i == 0 { "shown:" } else { "  or: " },
                v["value"],
                v["worker"],
                text(&v["role"]),
                v["device"]
            ));
        }
    }
    out
}

pub fn forms(list: &Value) -> String {
    let mut out = format!(
        "{:>6}  {:<24} {:>7}  {}",
        "number", "form", "version", "title"
    );
    for f in list.as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n{:>6}  {:<24} {:>7}  {}",
            f["number"].to_string(),
            text(&f["id"]),
            f["version"].to_string(),
            text(&f["title"])
        ));
    }
    out
}
