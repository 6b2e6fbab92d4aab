//! Records that left this tablet's puskesmas: their household moved to another one, and the
//! server said so in a pull. They leave every view of the tablet at once, but their last state
//! is kept, out of sight, for [`KEEP_DEPARTED_DAYS`]: if the server is restored from a backup
//! older than the move, this tablet may be the only one that still holds them, and it offers
//! them back (`POST /v1/offer`) after the timeline reset. Found by the simulation (seed 1 with
//! moves): a household moved twice, then a restore, and no tablet held it any more.

use cageur_model::RecordKind;
use cageur_protocol::sync::{ChangeGroup, MAX_GROUP_RECORDS, MAX_PUSH_RECORDS, WireRecord};
use rusqlite::{Connection, Transaction, params};
use uuid::Uuid;

use crate::error::Result;
use crate::store::tables::{self, uuid_from_blob};

/// How long a departed record's copy is kept: longer than the health office keeps backups.
pub const KEEP_DEPARTED_DAYS: i64 = 30;

/// Takes the records the server says departed out of the tablet's tables (a pull page's,
/// inside its transaction). One with changes still to push stays until they are pushed
/// ([`settle`]).
pub(crate) fn depart(tx: &Transaction<'_>, ids: &[Uuid], now: i64) -> Result<()> {
    for id in ids {
        let Some(kind) = tables::kind_of(tx, *id)? else {
            continue;
        };
        let waiting = tx
            .prepare_cached("SELECT 1 FROM outbox WHERE record_id = ?1")?
            .exists([id.as_bytes()])?;
        tx.prepare_cached(
            "INSERT INTO departed (id, kind, state, departed_at) VALUES (?1, ?2, NULL, ?3)
             ON CONFLICT (id) DO UPDATE SET state = NULL, departed_at = excluded.departed_at",
        )?
        .execute(params![id.as_bytes(), kind.code(), now])?;
        if !waiting {
            keep_copy(tx, kind, *id)?;
        }
    }
    Ok(())
}

/// Moves a departed record's state from its table into its copy.
fn keep_copy(tx: &Transaction<'_>, kind: RecordKind, id: Uuid) -> Result<()> {
    let sql = format!(
        "UPDATE departed SET state = (SELECT state FROM {table} WHERE id = ?1) WHERE id = ?1",
        table = tables::table(kind)
    );
    tx.prepare_cached(&sql)?.execute([id.as_bytes()])?;
    tables::delete(tx, id)?;
    Ok(())
}

/// After a push: the departed records whose changes are now on the server leave their
/// tables; copies past [`KEEP_DEPARTED_DAYS`] are dropped.
pub(crate) fn settle(conn: &mut Connection, now: i64) -> Result<()> {
    let tx = conn.transaction()?;
    let pushed: Vec<(Vec<u8>, u8)> = tx
        .prepare(
            "SELECT id, kind FROM departed
             WHERE state IS NULL AND id NOT IN (SELECT record_id FROM outbox)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, kind) in pushed {
        if let (Some(id), Some(kind)) = (uuid_from_blob(&id), RecordKind::from_code(kind)) {
            keep_copy(&tx, kind, id)?;
        }
    }
    tx.execute(
        "DELETE FROM departed WHERE state IS NOT NULL AND departed_at < ?1",
        [now - KEEP_DEPARTED_DAYS * 86_400],
    )?;
    tx.commit()?;
    Ok(())
}

/// At a timeline reset (inside its transaction): every copy is offered to the server, and a
/// departed record still waiting to be pushed is offered rather than pushed (the restored
/// server may no longer know that it departed, and would refuse it as another puskesmas's).
pub(crate) fn offer_all(tx: &Transaction<'_>) -> Result<()> {
    let waiting: Vec<(Vec<u8>, u8)> = tx
        .prepare("SELECT id, kind FROM departed WHERE state IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, kind) in waiting {
        if let (Some(uuid), Some(kind)) = (uuid_from_blob(&id), RecordKind::from_code(kind)) {
            keep_copy(tx, kind, uuid)?;
            tx.execute("DELETE FROM outbox WHERE record_id = ?1", [&id])?;
        }
    }
    tx.execute("UPDATE departed SET offer = 1 WHERE state IS NOT NULL", [])?;
    Ok(())
}

/// The next copies to offer, households first (so that their members find them on the
/// server), as change groups of one request.
pub(crate) fn next_offer(conn: &Connection) -> Result<(Vec<ChangeGroup>, Vec<Uuid>)> {
    let rows: Vec<(Vec<u8>, u8, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT id, kind, state FROM departed WHERE offer = 1 AND state IS NOT NULL
             ORDER BY kind, id LIMIT ?1",
        )?
        .query_map([MAX_PUSH_RECORDS as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut records = Vec::with_capacity(rows.len());
    for (id, kind, state) in rows {
        let Some(uuid) = uuid_from_blob(&id) else {
            continue;
        };
        ids.push(uuid);
        records.push(WireRecord {
            kind,
            id: uuid,
            state,
        });
    }
    let groups = records
        .chunks(MAX_GROUP_RECORDS)
        .zip(0..)
        .map(|(part, n)| ChangeGroup {
            change_seq: n,
            records: part.to_vec(),
        })
        .collect();
    Ok((groups, ids))
}

/// Marks copies as offered.
pub(crate) fn offered(conn: &mut Connection, ids: &[Uuid]) -> Result<()> {
    let tx = conn.transaction()?;
    for id in ids {
        tx.prepare_cached("UPDATE departed SET offer = 0 WHERE id = ?1")?
            .execute([id.as_bytes()])?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tempfile::TempDir;

    use super::{KEEP_DEPARTED_DAYS, depart, next_offer, offer_all, offered, settle};
    use crate::Replica;
    use crate::sync::outbox::{acknowledge, next_batch};

    const NOW: i64 = 1_795_000_000;
    const DAY: i64 = 86_400;

    fn replica_with_a_family(dir: &TempDir) -> (Replica, uuid::Uuid) {
        let mut replica = crate::test_support::replica(&dir.path().join("d.db"), 4);
        let id = replica
            .add_household(&crate::test_support::household())
            .unwrap();
        let person: cageur_model::Person = cageur_model::json::from_value(
            json!({"household": id, "nik": "3671054702900001", "name": "Siti Aminah",
                   "sex": "female", "birth_date": "1990-02-07", "relation": "spouse"}),
        )
        .unwrap();
        replica.add_person(&person).unwrap();
        (replica, id.0)
    }

    fn push_everything(replica: &mut Replica) {
        let batch = next_batch(&replica.conn).unwrap();
        let accepted: Vec<i64> = batch.groups.iter().map(|g| g.change_seq).collect();
        acknowledge(&mut replica.conn, &batch, &accepted, None).unwrap();
    }

    fn told_departed(replica: &mut Replica, ids: &[uuid::Uuid], now: i64) {
        let tx = replica.conn.transaction().unwrap();
        depart(&tx, ids, now).unwrap();
        tx.commit().unwrap();
    }

    fn held(replica: &Replica) -> usize {
        replica.all_states().unwrap().len()
    }

    #[test]
    fn a_departed_record_leaves_the_views_and_is_kept_as_a_copy_for_a_while() {
        let dir = TempDir::new().unwrap();
        let (mut replica, household) = replica_with_a_family(&dir);
        push_everything(&mut replica);
        assert_eq!(held(&replica), 2);

        told_departed(&mut replica, &[household], NOW);
        assert_eq!(held(&replica), 1, "the household left every view");
        // Not offered until the server's history changes.
        assert!(next_offer(&replica.conn).unwrap().0.is_empty());
        let tx = replica.conn.transaction().unwrap();
        offer_all(&tx).unwrap();
        tx.commit().unwrap();
        let (groups, ids) = next_offer(&replica.conn).unwrap();
        assert_eq!(ids, vec![household]);
        assert_eq!(
            groups[0].records[0].kind,
            cageur_model::RecordKind::Household.code()
        );
        offered(&mut replica.conn, &ids).unwrap();
        assert!(next_offer(&replica.conn).unwrap().0.is_empty());

        settle(&mut replica.conn, NOW + (KEEP_DEPARTED_DAYS - 1) * DAY).unwrap();
        let copies = |r: &Replica| -> i64 {
            r.conn
                .query_row("SELECT count(*) FROM departed", [], |row| row.get(0))
                .unwrap()
        };
        assert_eq!(
            copies(&replica),
            1,
            "kept within the days a backup may reach back"
        );
        settle(&mut replica.conn, NOW + (KEEP_DEPARTED_DAYS + 1) * DAY).unwrap();
        assert_eq!(copies(&replica), 0, "dropped after them");
    }

    #[test]
    fn a_departed_record_with_changes_to_push_stays_until_they_are_pushed() {
        let dir = TempDir::new().unwrap();
        let (mut replica, household) = replica_with_a_family(&dir);
        push_everything(&mut replica);
        replica
            .update_json(household, &json!({"head_name": "Ahmad Suryadi Putra"}))
            .unwrap();

        told_departed(&mut replica, &[household], NOW);
        settle(&mut replica.conn, NOW).unwrap();
        assert_eq!(held(&replica), 2, "its change is still to be pushed");
        push_everything(&mut replica);
        settle(&mut replica.conn, NOW).unwrap();
        assert_eq!(held(&replica), 1, "pushed, it leaves");
    }

    #[test]
    fn at_a_timeline_reset_a_departed_record_waiting_to_be_pushed_is_offered_instead() {
        let dir = TempDir::new().unwrap();
        let (mut replica, household) = replica_with_a_family(&dir);
        push_everything(&mut replica);
        replica
            .update_json(household, &json!({"head_name": "Ahmad Suryadi Putra"}))
            .unwrap();
        told_departed(&mut replica, &[household], NOW);

        let tx = replica.conn.transaction().unwrap();
        offer_all(&tx).unwrap();
        tx.commit().unwrap();
        assert_eq!(held(&replica), 1);
        assert_eq!(replica.pending_changes().unwrap(), 0);
        let (groups, ids) = next_offer(&replica.conn).unwrap();
        assert_eq!(ids, vec![household]);
        let state = cageur_protocol::RecordState::decode(&groups[0].records[0].state).unwrap();
        let shown = state.shown(&cageur_protocol::NoSettling);
        assert!(
            shown
                .values()
                .any(|v| *v == cageur_model::Value::Text("Ahmad Suryadi Putra".into())),
            "the copy holds the change made before the departure"
        );
    }
}
