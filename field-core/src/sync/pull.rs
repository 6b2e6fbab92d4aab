//! Pulling: pages of the puskesmas's changes, each merged with its cursor in one transaction.
//!
//! Pages are fetched, and their states read and checked, on a thread of its own, up to
//! [`PAGES_AHEAD`] ahead of the page being merged: the wait for the server and the device's
//! writes overlap, which halves a new tablet's bootstrap on a device with two cores. Each page
//! is asked for with the cursor the page before it ends at; if a merge fails, the pages
//! fetched ahead are dropped, and the next sync asks for them again from the stored cursor.
//!
//! Every page is merged with its cursor in the same transaction, and pages that come quickly
//! share one (up to [`TRANSACTION_BUDGET`]), each page inside it all or nothing: when the
//! link is cut, or a page cannot be merged, the whole pages before it commit with their
//! cursor, and the next sync goes on from there.

use std::time::{Duration, Instant};

use cageur_model::RecordKind;
use cageur_model::forms::FormRegistry;
use cageur_protocol::sync::{Cursor, PullRequest, PullResponseV2};
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
    departed: Vec<Uuid>,
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
    let page: PullResponseV2 = client.call(
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
        departed: page.departed,
        next: page.next,
        remaining: page.remaining,
    })
}

/// Merges a page and stores its cursor inside the open transaction, all or nothing (a
/// savepoint), so that a page that fails to merge leaves the pages before it to commit.
fn merge_page(
    tx: &Transaction<'_>,
    page: Page,
    now: i64,
    forms: &FormRegistry,
    lookups: &mut Lookups,
) -> Result<MergeReport> {
    let Page {
        epoch,
        records,
        departed,
        next,
        ..
    } = page;
    tx.execute_batch("SAVEPOINT page")?;
    let merged = merge_decoded(tx, records, forms, lookups).and_then(|merged| {
        super::departed::depart(tx, &departed, now)?;
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

/// How many pages the fetching thread may hold ready while the merging thread is busy (a
/// commit of the pages that shared a transaction takes a few of them): enough to keep it
/// fetching through a commit, few enough that a bootstrap stays far below 200 MB.
const PAGES_AHEAD: usize = 3;

/// Whether `page` (asked for with `cursor`) is the last one: nothing remains, or the page did
/// not move the cursor.
fn is_last(page: &Page, cursor: Cursor) -> bool {
    page.remaining == 0 || page.next == cursor
}

impl Replica {
    pub(super) fn pull_all(
        &mut self,
        client: &mut Client,
        options: &SyncOptions,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let start = self
            .read_sync_state()?
            .ok_or(FieldError::NotEnrolled)?
            .cursor;
        let now = self.now().timestamp();
        let forms = &self.forms;
        let mut lookups = Lookups::for_replica(&self.conn)?;
        let mut done = 0u64;
        let mut open: Option<(Transaction<'_>, Instant)> = None;
        std::thread::scope(|scope| {
            // The fetching thread asks for each page with the cursor the page before it
            // ends at, reads its states, and hands it over; it stops after the last page, at
            // the first error (handed over too), or when the merging thread stops taking.
            let (pages, arrivals) = std::sync::mpsc::sync_channel::<Result<Page>>(PAGES_AHEAD);
            scope.spawn(move || {
                let mut cursor = start;
                loop {
                    let page = fetch(client, cursor, options.page_bytes, forms);
                    let next = match &page {
                        Ok(page) if !is_last(page, cursor) => Some(page.next),
                        _ => None,
                    };
                    if pages.send(page).is_err() {
                        return;
                    }
                    match next {
                        Some(next) => cursor = next,
                        None => return,
                    }
                }
            });
            let mut cursor = start;
            loop {
                let page = match arrivals.recv() {
                    Ok(Ok(page)) => page,
                    // Cut off: what was merged stays merged, and the next sync goes on from
                    // its cursor. (The fetching thread ends without a word only by panicking,
                    // which the scope carries on.)
                    failed => {
                        if let Some((tx, _)) = open.take() {
                            tx.commit()?;
                        }
                        return Err(match failed {
                            Ok(Err(e)) => e,
                            Ok(Ok(_)) | Err(_) => {
                                FieldError::Network("the page fetcher stopped".into())
                            }
                        });
                    }
                };
                let last = is_last(&page, cursor);
                let received = page.records.len() as u64;
                let (next, remaining) = (page.next, page.remaining);
                let (tx, began) = match open.take() {
                    Some(open) => open,
                    // Shared borrows, so that a transaction can stay open across iterations;
                    // nothing else writes through this connection meanwhile.
                    None => (self.conn.unchecked_transaction()?, Instant::now()),
                };
                let merged = match merge_page(&tx, page, now, forms, &mut lookups) {
                    Ok(merged) => merged,
                    Err(e) => {
                        // The pages before this one are whole: keep them.
                        tx.commit()?;
                        return Err(e);
                    }
                };
                if last || began.elapsed() >= TRANSACTION_BUDGET {
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
                    total: done + remaining,
                });
                if last {
                    return Ok(());
                }
                cursor = next;
            }
        })
    }
}
