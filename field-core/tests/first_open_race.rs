//! Regression test: several threads opening their first encrypted database at the same moment.
//!
//! SQLCipher finishes its set-up after SQLite reports itself initialised; a thread that keyed a
//! connection in that window failed with "An error occurred with PRAGMA key or rekey" (a CI run
//! on 2026-11-23). The race exists only once per process, so this test has a binary of its own
//! and its threads start together from a barrier.

mod support;

use std::sync::{Arc, Barrier};

#[test]
fn threads_opening_their_first_databases_together_all_succeed() {
    const THREADS: usize = 16;
    let barrier = Arc::new(Barrier::new(THREADS));
    let dir = tempfile::TempDir::new().unwrap();
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let path = dir.path().join(format!("d{i}.db"));
            std::thread::spawn(move || {
                let info = field_core::DeviceInfo {
                    number: i as u32 + 1,
                    puskesmas: None,
                    team: None,
                };
                barrier.wait();
                field_core::Replica::init(&path, &support::key(), info, support::options())
                    .map(|_| ())
            })
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let opened = handle.join().expect("no thread panics");
        assert!(opened.is_ok(), "thread {i}: {:?}", opened.err());
    }
}
