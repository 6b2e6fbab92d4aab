//! `cageur-admin export`: a puskesmas's records as the canonical JSON, or as CSV (one file
//! per kind). Written beside its destination and renamed once complete, so an interrupted
//! export leaves no half file, and running it again is safe.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::api::Api;
use crate::{ExportFormat, progress};

/// The kinds' sections, in the export's order.
const SECTIONS: [&str; 5] = ["households", "persons", "visits", "referrals", "followups"];

fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Writes `bytes` to `path` through a `.partial` file renamed when complete.
fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = partial(path);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Downloads the export into `out`, with a bar of bytes (the scope of a puskesmas is tens of
/// megabytes).
fn download(api: &Api, puskesmas: &str, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let bar = progress::bytes_bar(json, "exporting");
    api.get_to(
        "/admin/v1/export",
        &[("puskesmas", puskesmas.to_owned())],
        out,
        &mut |done, total| {
            if let Some(total) = total {
                bar.set_length(total);
            }
            bar.set_position(done);
        },
    )?;
    bar.finish_and_clear();
    Ok(())
}

pub fn run(
    api: &Api,
    json: bool,
    puskesmas: &str,
    format: ExportFormat,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    match (format, out) {
        (ExportFormat::Json, None) => {
            download(api, puskesmas, json, &mut std::io::stdout().lock())?
        }
        (ExportFormat::Json, Some(path)) => {
            let tmp = partial(path);
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?,
            );
            download(api, puskesmas, json, &mut file)?;
            file.flush()?;
            drop(file);
            std::fs::rename(&tmp, path)
                .with_context(|| format!("renaming to {}", path.display()))?;
        }
        (ExportFormat::Csv, None) => bail!("--format csv writes one file per kind: give --out DIR"),
        (ExportFormat::Csv, Some(dir)) => {
            let mut bytes = Vec::new();
            download(api, puskesmas, json, &mut bytes)?;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let sections = sections(&bytes)?;
            for (name, records) in SECTIONS.iter().zip(&sections) {
                write_whole(&dir.join(format!("{name}.csv")), &csv_of(records)?)?;
            }
            let counts: Vec<String> = SECTIONS
                .iter()
                .zip(&sections)
                .map(|(n, r)| format!("{} {n}", r.len()))
                .collect();
            eprintln!("wrote {} in {}", counts.join(", "), dir.display());
        }
    }
    Ok(())
}

/// The export's records, per section, read line by line (one record per line).
fn sections(export: &[u8]) -> anyhow::Result<Vec<Vec<Value>>> {
    let text = std::str::from_utf8(export).context("the export is not UTF-8")?;
    let mut out: Vec<Vec<Value>> = vec![Vec::new(); SECTIONS.len()];
    let mut current: Option<usize> = None;
    for line in text.lines() {
        if let Some(i) = SECTIONS.iter().position(|s| line == format!("\"{s}\":[")) {
            current = Some(i);
            continue;
        }
        let record = line.trim_end_matches(',');
        if !record.starts_with("{\"") || record.starts_with("{\"format\"") {
            continue;
        }
        let Some(i) = current else {
            bail!("the export has a record before any section");
        };
        out[i].push(serde_json::from_str(record).context("a record line of the export")?);
    }
    Ok(out)
}

/// Flattens a JSON value into dotted columns: objects recurse, lists stay JSON text.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Null => {
            out.insert(prefix.to_owned(), String::new());
        }
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// One CSV table of a kind's records: `id`, `deleted`, `merged_into`, `conflicts` (how many
/// fields are in conflict), then every field of the records' JSON, dotted, in name order.
fn csv_of(records: &[Value]) -> anyhow::Result<Vec<u8>> {
    let rows: Vec<BTreeMap<String, String>> = records
        .iter()
        .map(|r| {
            let mut row = BTreeMap::new();
            flatten("", &r["record"], &mut row);
            row
        })
        .collect();
    let columns: BTreeSet<&String> = rows.iter().flat_map(|r| r.keys()).collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["id", "deleted", "merged_into", "conflicts"];
    header.extend(columns.iter().map(|c| c.as_str()));
    writer.write_record(&header)?;
    for (record, row) in records.iter().zip(&rows) {
        let mut line = vec![
            record["id"].as_str().unwrap_or_default().to_owned(),
            record["deleted"].to_string(),
            record["merged_into"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            record["conflicts"]
                .as_array()
                .map_or(0, Vec::len)
                .to_string(),
        ];
        line.extend(
            columns
                .iter()
                .map(|c| row.get(*c).cloned().unwrap_or_default()),
        );
        writer.write_record(&line)?;
    }
    writer.into_inner().context("finishing the CSV")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sections_read_every_record_line_of_an_export() {
        let export = b"{\"format\":\"cageur-export/1\",\n\"households\":[\n{\"deleted\":false,\"id\":\"a\",\"record\":{\"kk\":\"1\"}},\n{\"deleted\":false,\"id\":\"b\",\"record\":{\"kk\":\"2\"}}\n],\n\"persons\":[\n],\n\"visits\":[\n],\n\"referrals\":[\n],\n\"followups\":[\n]\n}\n";
        let s = sections(export).unwrap();
        assert_eq!(
            s.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 0, 0, 0, 0]
        );
        assert_eq!(s[0][1]["id"], "b");
    }

    #[test]
    fn csv_flattens_nested_fields_and_quotes_what_needs_it() {
        let records = vec![
            json!({"id": "a", "deleted": false, "record": {"name": "Siti, \"Bu\"", "address": {"rt": 3}, "tags": [1, 2]}}),
            json!({"id": "b", "deleted": true, "record": {"name": "Ahmad"}, "conflicts": [{}]}),
        ];
        let text = String::from_utf8(csv_of(&records).unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("id,deleted,merged_into,conflicts,address.rt,name,tags")
        );
        assert_eq!(
            lines.next(),
            Some("a,false,,0,3,\"Siti, \"\"Bu\"\"\",\"[1,2]\"")
        );
        assert_eq!(lines.next(), Some("b,true,,1,,Ahmad,"));
    }
}
