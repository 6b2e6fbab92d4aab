//! Pulling: pages of the puskesmas's changes, each merged with its cursor in one transaction.
//!
//! The next page is fetched, and its states read and checked, on a thread of its own while
//! the page before it is merged: the wait for the server and the device's writes overlap,
//! which halves a new tablet's bootstrap on a device with two cores. The next page is asked
//! for with the cursor the page being merged will store; if that merge fails, the page
//! fetched ahead is dropped, and the next sync asks for it again from the stored cursor.
//!
//! Every page is merged with its cursor in the same transaction, and pages that come quickly
//! share one (up to [`TRANSACTION_BUDGET`]), each page inside it all or nothing: when the
//! link is cut, or a page cannot be merged, the whole pages before it commit with their
//! cursor, and the next sync goes on from there.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use cageur_model::RecordKind;
use cageur_model::forms::FormRegistry;
use cageur_protocol::sync::{Cursor, PullRequest, PullResponse};
use rusqlite::{Transaction, params};
use uuid::Uuid;

use super::http::Client;
use super::{Phase, Progress, SyncOptions, SyncReport};
use crate::error::{FieldError, Result};
use crate::replica::{
    Lookups, MergeReport, Received, RemoteRecord, Replica, decode_all, merge_decoded,
};

/// How long one transaction may go on taking pages: pages that arrive quickly (a bootstrap)
/// share a commit, which writes the tables' pages they have in common once and syncs the
/// file once; a health worker's write waits at most this long (plus one page) for the lock.
const TRANSACTION_BUDGET: Duration = Duration::from_millis(250);

/// A page as received, its states read and checked.
struct Page {
    epoch: Uuid,
    records: Vec<Received>,
    next: Cursor,
    remaining: u64,
}

/// Asks for the page after `cursor` and reads its states.
fn fetch(
    client: &mut Client,
    cursor: Cursor,
    page_bytes: Option<u32>,
    forms: &FormRegistry,
) -> Result<Page> {
    let page: PullResponse = client.call(
        "/v1/pull",
        &PullRequest {
            cursor,
            max_bytes: page_bytes,
        },
    )?;
    let records = page
        .records
        .into_iter()
        .map(|r| {
            let kind = RecordKind::from_code(r.kind).ok_or_else(|| {
                FieldError::Network(format!("the server sent record kind {}", r.kind))
            })?;
            Ok(RemoteRecord {
                kind,
                id: r.id,
                state: r.state,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page {
        epoch: page.epoch,
        records: decode_all(records, forms)?,
        next: page.next,
        remaining: page.remaining,
    })
}

/// Merges a page and stores its cursor inside the open transaction, all or nothing (a
/// savepoint), so that a page that fails to merge leaves the pages before it to commit.
fn merge_page(
    tx: &Transaction<'_>,
    records: Vec<Received>,
    next: Cursor,
    epoch: Uuid,
    forms: &FormRegistry,
    lookups: &mut Lookups,
) -> Result<MergeReport> {
    tx.execute_batch("SAVEPOINT page")?;
    let merged = merge_decoded(tx, records, forms, lookups).and_then(|merged| {
        tx.execute(
            "UPDATE sync_state SET cursor_seq = ?1, cursor_token = ?2, epoch = ?3",
            params![next.seq as i64, next.token as i64, epoch.to_string()],
        )?;
        Ok(merged)
    });
    match merged {
        Ok(merged) => {
            tx.execute_batch("RELEASE page")?;
            Ok(merged)
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO page; RELEASE page")?;
            Err(e)
        }
    }
}

impl Replica {
    pub(super) fn pull_all(
        &mut self,
        client: &mut Client,
        options: &SyncOptions,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let mut cursor = self
            .read_sync_state()?
            .ok_or(FieldError::NotEnrolled)?
            .cursor;
        let forms = &self.forms;
        let mut lookups = Lookups::for_replica(&self.conn)?;
        let mut page = fetch(client, cursor, options.page_bytes, forms)?;
        let mut done = 0u64;
        // Only the thread fetching ahead uses the client, one at a time: the lock is never
        // waited for, and lets each of those threads borrow it in turn.
        let client = Mutex::new(client);
        let mut open = None;
        std::thread::scope(|scope| {
            loop {
                // A page may hold nothing but still move the cursor past this device's own
                // changes, which the server does not send back.
                let last = page.remaining == 0 || page.next == cursor;
                let ahead = (!last).then(|| {
                    let (client, next) = (&client, page.next);
                    scope.spawn(move || {
                        let mut client = client.lock().unwrap_or_else(PoisonError::into_inner);
                        fetch(&mut client, next, options.page_bytes, forms)
                    })
                });
                let received = page.records.len() as u64;
                let (tx, began) = match open.take() {
                    Some(open) => open,
                    // Shared borrows, so that a transaction can stay open across iterations;
                    // nothing else writes through this connection meanwhile.
                    None => (self.conn.unchecked_transaction()?, Instant::now()),
                };
                let merged = match merge_page(
                    &tx,
                    page.records,
                    page.next,
                    page.epoch,
                    forms,
                    &mut lookups,
                ) {
                    Ok(merged) => merged,
                    Err(e) => {
                        // The pages before this one are whole: keep them.
                        tx.commit()?;
                        return Err(e);
                    }
                };
                if ahead.is_none() || began.elapsed() >= TRANSACTION_BUDGET {
                    tx.commit()?;
                } else {
                    open = Some((tx, began));
                }
                done += received;
                report.pulled += received;
                report.merged += merged.changed as u64;
                progress(Progress {
                    phase: Phase::Pull,
                    done,
                    total: done + page.remaining,
                });
                let Some(ahead) = ahead else {
                    return Ok(());
                };
                cursor = page.next;
                page = match ahead
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                {
                    Ok(page) => page,
                    Err(e) => {
                        // Cut off: what was merged stays merged, and the next sync goes on
                        // from its cursor.
                        if let Some((tx, _)) = open.take() {
                            tx.commit()?;
                        }
                        return Err(e);
                    }
                };
            }
        })
    }
}
