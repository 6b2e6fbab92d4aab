//! Records leaving a puskesmas's scope. When a household moves to another puskesmas, it and
//! every record of it (members, visits, referrals, follow-ups) depart from the old scope at
//! the move's sequence: the old puskesmas's devices are told in their next pull and drop
//! them, and a change they made to one before they knew is still accepted (it was made
//! while the record was theirs), merged into the record where it now belongs. Written once
//! for both stores.

use std::collections::HashSet;

use uuid::Uuid;

use super::StoreResult;
use super::sql::{SqlTx, SqlValue};

/// Moves `household` (and every record of it) from `from` to `to` at `seq`: its records are
/// re-scoped and reach `to`'s devices at `seq` with their groups, and `from`'s devices are
/// told they departed. Records coming back to `to` are no longer departed from it.
pub fn household_moved(
    tx: &mut dyn SqlTx,
    household: Uuid,
    from: &str,
    to: &str,
    seq: u64,
) -> StoreResult<()> {
    let id = SqlValue::from(household.as_bytes().to_vec());
    tx.execute(
        "UPDATE records SET seq = $1 WHERE seq IN (SELECT seq FROM records WHERE household = $2)",
        &[seq.into(), id.clone()],
    )?;
    // No device holds them as they are any more: the one whose own state they were is of
    // `from` and drops them, so it must receive them again should they come back (found by
    // the simulation, seed 237 with moves).
    tx.execute(
        "UPDATE records SET puskesmas = $1, echo = NULL WHERE household = $2",
        &[to.into(), id.clone()],
    )?;
    tx.execute(
        "DELETE FROM departures WHERE puskesmas = $1
           AND (id = $2 OR id IN (SELECT id FROM records WHERE household = $2))",
        &[to.into(), id.clone()],
    )?;
    tx.execute(
        "INSERT INTO departures (puskesmas, id, seq)
         SELECT $1, id, $2 FROM records WHERE id = $3 OR household = $3
         ON CONFLICT (puskesmas, id) DO UPDATE SET seq = excluded.seq",
        &[from.into(), seq.into(), id],
    )?;
    Ok(())
}

/// Notes that record `id` departed from `puskesmas` at `seq` (a device of it wrote into a
/// household that had moved away).
pub fn record_departed(tx: &mut dyn SqlTx, puskesmas: &str, id: Uuid, seq: u64) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO departures (puskesmas, id, seq) VALUES ($1, $2, $3)
         ON CONFLICT (puskesmas, id) DO UPDATE SET seq = excluded.seq",
        &[puskesmas.into(), id.as_bytes().to_vec().into(), seq.into()],
    )?;
    Ok(())
}

/// The puskesmas of device `device`, if there is one.
pub fn device_puskesmas(tx: &mut dyn SqlTx, device: u32) -> StoreResult<Option<String>> {
    Ok(tx
        .query_opt(
            "SELECT puskesmas FROM devices WHERE id = $1",
            &[u64::from(device).into()],
        )?
        .and_then(|row| row.first().and_then(SqlValue::text).map(str::to_owned)))
}

/// Ids asked about in one statement by [`departed`]: far below either store's limit on
/// parameters.
const IDS_PER_STATEMENT: usize = 500;

/// Which of `ids` departed from `puskesmas`. A push asks this of every record it carries
/// while it holds the push lock, so the ids go in a few statements, not one each: one round
/// trip per record to PostgreSQL made the p99 latency of 200 tablets pushing at once
/// 1.5-2x longer.
pub fn departed(tx: &mut dyn SqlTx, puskesmas: &str, ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let placeholders: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id FROM departures WHERE puskesmas = $1 AND id IN ({})",
            placeholders.join(", ")
        );
        let mut params = vec![SqlValue::from(puskesmas)];
        params.extend(
            chunk
                .iter()
                .map(|id| SqlValue::from(id.as_bytes().to_vec())),
        );
        for row in tx.query(&sql, &params)? {
            let id = row
                .first()
                .and_then(SqlValue::bytes)
                .and_then(|b| Uuid::from_slice(b).ok())
                .ok_or_else(|| super::StoreError::Damaged("a departure's id".into()))?;
            out.insert(id);
        }
    }
    Ok(out)
}

/// The departures from `puskesmas` after sequence `after` (and up to `upto`, if given), in
/// sequence order: (sequence, id).
pub fn after(
    tx: &mut dyn SqlTx,
    puskesmas: &str,
    after: u64,
    upto: Option<u64>,
) -> StoreResult<Vec<(u64, Uuid)>> {
    let upto = upto.unwrap_or(i64::MAX as u64);
    tx.query(
        "SELECT seq, id FROM departures WHERE puskesmas = $1 AND seq > $2 AND seq <= $3
         ORDER BY seq, id",
        &[puskesmas.into(), after.into(), upto.into()],
    )?
    .iter()
    .map(|r| {
        let seq = r
            .first()
            .and_then(SqlValue::int)
            .unwrap_or(0)
            .unsigned_abs();
        let id = r
            .get(1)
            .and_then(SqlValue::bytes)
            .and_then(|b| Uuid::from_slice(b).ok())
            .ok_or_else(|| super::StoreError::Damaged("a departure's id".into()))?;
        Ok((seq, id))
    })
    .collect()
}
