//! Pulling: pages of the puskesmas's changes, each merged with its cursor in one transaction.
//!
//! Pages are fetched on one thread and their states read and checked on another, up to
//! [`PAGES_AHEAD`] ahead of the page being merged: the wait for the server, the reading and
//! the device's writes overlap (docs/benchmarks.md, "Bootstrap"). Each page is asked for with the cursor the page before it ends at; if a
//! merge fails, the pages fetched ahead are dropped, and the next sync asks for them again
//! from the stored cursor.
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

/// Asks for the page after `cursor`.
fn fetch(client: &mut Client, cursor: Cursor, page_bytes: Option<u32>) -> Result<PullResponseV2> {
    client.call(
        "/v1/pull",
        &PullRequest {
            cursor,
            max_bytes: page_bytes,
        },
    )
}

/// Reads and checks a page's states, and derives their columns.
fn read_page(page: PullResponseV2, forms: &FormRegistry) -> Result<Page> {
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

/// How many pages may wait, read, while the merging thread is busy (a commit of the pages
/// that shared a transaction takes a few of them): enough to keep the other threads working
/// through a commit, few enough that a bootstrap stays far below 200 MB.
const PAGES_AHEAD: usize = 3;

/// How many pages may wait, as received, for the reading thread: one, so that the server
/// cuts the next page while this one is read.
const RESPONSES_AHEAD: usize = 1;

/// Whether a page asked for with `cursor`, ending at `next` with `remaining` left, is the
/// last one: nothing remains, or the page did not move the cursor.
fn is_last(next: Cursor, remaining: u64, cursor: Cursor) -> bool {
    remaining == 0 || next == cursor
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
            // Three stages, each on a thread of its own, so that the server cutting a page,
            // the device reading the page before it and writing the one before that overlap.
            // The fetching thread asks for each page with the cursor the page before it ends
            // at; the reading thread reads and checks its states. Each stops after the last
            // page, at the first error (handed on too), or when the stage after it stops
            // taking.
            let (responses, to_read) =
                std::sync::mpsc::sync_channel::<Result<PullResponseV2>>(RESPONSES_AHEAD);
            let (pages, arrivals) = std::sync::mpsc::sync_channel::<Result<Page>>(PAGES_AHEAD);
            scope.spawn(move || {
                let mut cursor = start;
                loop {
                    let response = fetch(client, cursor, options.page_bytes);
                    let next = match &response {
                        Ok(r) if !is_last(r.next, r.remaining, cursor) => Some(r.next),
                        _ => None,
                    };
                    if responses.send(response).is_err() {
                        return;
                    }
                    match next {
                        Some(next) => cursor = next,
                        None => return,
                    }
                }
            });
            scope.spawn(move || {
                for response in to_read {
                    let page = response.and_then(|r| read_page(r, forms));
                    if pages.send(page).is_err() {
                        return;
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
                let last = is_last(page.next, page.remaining, cursor);
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
