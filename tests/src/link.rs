//! A TCP link between a tablet and the server that can go down mid-transfer and come back,
//! as a mobile connection does when a team rides out of coverage.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// A running link; its threads end when the test process does.
#[derive(Debug)]
pub struct Link {
    /// `http://127.0.0.1:PORT`, to enroll and sync through.
    pub url: String,
    state: Arc<LinkState>,
}

#[derive(Debug)]
struct LinkState {
    /// Bytes still allowed from the server to the tablet before the link goes down.
    budget: AtomicU64,
    down: AtomicBool,
    /// Requests to this path are cut before they reach the server.
    refused: Mutex<Option<String>>,
}

impl Link {
    /// Forwards to the server at `target` (`127.0.0.1:PORT`).
    pub fn start(target: &str) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let state = Arc::new(LinkState {
            budget: AtomicU64::new(u64::MAX),
            down: AtomicBool::new(false),
            refused: Mutex::new(None),
        });
        let (target, shared) = (target.to_owned(), state.clone());
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if shared.down.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused mid-handshake
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                relay(client, server, shared.clone());
            }
        });
        Link { url, state }
    }

    /// Lets `bytes` more bytes reach the tablet, then cuts every connection mid-transfer and
    /// refuses new ones until [`Link::restore`].
    pub fn go_down_after(&self, bytes: u64) {
        self.state.budget.store(bytes, Ordering::SeqCst);
    }

    /// Whether the link went down.
    pub fn is_down(&self) -> bool {
        self.state.down.load(Ordering::SeqCst)
    }

    /// Cuts every request to `path` (`/v1/push`) before the server reads it, as a link that
    /// fails just after the hello: the tablet knows its push did not arrive.
    pub fn refuse(&self, path: &str) {
        *self.state.refused.lock().expect("not poisoned") = Some(format!("POST {path} "));
    }

    /// Brings the link back, with no limit.
    pub fn restore(&self) {
        self.state.budget.store(u64::MAX, Ordering::SeqCst);
        self.state.down.store(false, Ordering::SeqCst);
        *self.state.refused.lock().expect("not poisoned") = None;
    }
}

/// Copies both ways; the server-to-tablet direction spends the budget.
fn relay(client: TcpStream, server: TcpStream, state: Arc<LinkState>) {
    let (Ok(client_read), Ok(server_write)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = state.clone();
    thread::spawn(move || copy(client_read, server_write, &up, Direction::Up));
    thread::spawn(move || copy(server, client, &state, Direction::Down));
}

/// Which way bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Tablet to server: refused paths are cut.
    Up,
    /// Server to tablet: spends the budget.
    Down,
}

fn copy(mut from: TcpStream, mut to: TcpStream, state: &LinkState, direction: Direction) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let allowed = match direction {
            Direction::Up => {
                let refused = state.refused.lock().expect("not poisoned").clone();
                let head = String::from_utf8_lossy(&buf[..n.min(256)]);
                if refused.is_some_and(|r| head.starts_with(&r)) {
                    0
                } else {
                    n
                }
            }
            Direction::Down => take_budget(state, n),
        };
        if to.write_all(&buf[..allowed]).is_err() || allowed < n {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// How many of `n` bytes may pass; marks the link down once the budget is spent.
fn take_budget(state: &LinkState, n: usize) -> usize {
    if state.down.load(Ordering::SeqCst) {
        return 0;
    }
    let mut allowed = 0;
    let _ = state
        .budget
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |budget| {
            allowed = budget.min(n as u64) as usize;
            Some(budget - allowed as u64)
        });
    if allowed < n {
        state.down.store(true, Ordering::SeqCst);
    }
    allowed
}
