//! A TCP link between a tablet and the server that can go down mid-transfer and come back,
//! as a mobile connection does when a team rides out of coverage, or crawl as one does at the
//! edge of coverage.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

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
    down_budget: AtomicU64,
    /// Bytes still allowed from the tablet to the server before the link goes down.
    up_budget: AtomicU64,
    down: AtomicBool,
    /// Requests to this path are cut before they reach the server.
    refused: Mutex<Option<String>>,
    /// Requests seen, by `METHOD /path`.
    requests: Mutex<HashMap<String, u32>>,
    /// Latency added to each burst and the throughput allowed, both ways, when slow.
    slow: Mutex<Option<Slow>>,
}

/// A slow link's shape.
#[derive(Debug, Clone, Copy)]
struct Slow {
    latency: Duration,
    bytes_per_sec: u64,
}

impl Link {
    /// Forwards to the server at `target` (`127.0.0.1:PORT`); a server restarted on the same
    /// address is reached again by the next connection.
    pub fn start(target: &str) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let state = Arc::new(LinkState {
            down_budget: AtomicU64::new(u64::MAX),
            up_budget: AtomicU64::new(u64::MAX),
            down: AtomicBool::new(false),
            refused: Mutex::new(None),
            requests: Mutex::new(HashMap::new()),
            slow: Mutex::new(None),
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
        self.state.down_budget.store(bytes, Ordering::SeqCst);
    }

    /// Lets `bytes` more bytes reach the server, then cuts every connection mid-transfer (in
    /// the middle of a request body, for a budget smaller than the request) and refuses new
    /// ones until [`Link::restore`].
    pub fn cut_up_after(&self, bytes: u64) {
        self.state.up_budget.store(bytes, Ordering::SeqCst);
    }

    /// Adds `latency` to every burst of bytes and lets at most `bytes_per_sec` through each
    /// way, as a link at the edge of coverage.
    pub fn slow(&self, latency: Duration, bytes_per_sec: u64) {
        *self.state.slow.lock().expect("not poisoned") = Some(Slow {
            latency,
            bytes_per_sec,
        });
    }

    /// Whether the link went down.
    pub fn is_down(&self) -> bool {
        self.state.down.load(Ordering::SeqCst)
    }

    /// How many `POST path` requests have started through the link.
    pub fn posts(&self, path: &str) -> u32 {
        let requests = self.state.requests.lock().expect("not poisoned");
        requests.get(&format!("POST {path}")).copied().unwrap_or(0)
    }

    /// Cuts every request to `path` (`/v1/push`) before the server reads it, as a link that
    /// fails just after the hello: the tablet knows its push did not arrive.
    pub fn refuse(&self, path: &str) {
        *self.state.refused.lock().expect("not poisoned") = Some(format!("POST {path} "));
    }

    /// Brings the link back, fast and with no limit.
    pub fn restore(&self) {
        self.state.down_budget.store(u64::MAX, Ordering::SeqCst);
        self.state.up_budget.store(u64::MAX, Ordering::SeqCst);
        self.state.down.store(false, Ordering::SeqCst);
        *self.state.refused.lock().expect("not poisoned") = None;
        *self.state.slow.lock().expect("not poisoned") = None;
    }
}

/// Copies both ways.
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
    /// Tablet to server: requests are counted, refused paths are cut.
    Up,
    /// Server to tablet.
    Down,
}

/// A pause longer than this between reads starts a new burst, which pays the latency again.
const BURST_GAP: Duration = Duration::from_millis(20);

fn copy(mut from: TcpStream, mut to: TcpStream, state: &LinkState, direction: Direction) {
    let mut buf = [0u8; 16 * 1024];
    let mut last_read = Instant::now() - BURST_GAP * 2;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let allowed = match direction {
            Direction::Up => {
                let head = String::from_utf8_lossy(&buf[..n.min(256)]);
                count_request(state, &head);
                if is_refused(state, &head) {
                    0
                } else {
                    take_budget(state, &state.up_budget, n)
                }
            }
            Direction::Down => take_budget(state, &state.down_budget, n),
        };
        let slow = *state.slow.lock().expect("not poisoned");
        if let Some(slow) = slow {
            if last_read.elapsed() > BURST_GAP {
                thread::sleep(slow.latency);
            }
            let micros = allowed as u64 * 1_000_000 / slow.bytes_per_sec.max(1);
            thread::sleep(Duration::from_micros(micros));
        }
        last_read = Instant::now();
        if to.write_all(&buf[..allowed]).is_err() || allowed < n {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Counts the request that starts at `head`, if one does (a read may start mid-body).
fn count_request(state: &LinkState, head: &str) {
    let mut words = head.split(' ');
    if let (Some(method), Some(path)) = (words.next(), words.next())
        && matches!(method, "GET" | "POST" | "PUT" | "DELETE")
    {
        let mut requests = state.requests.lock().expect("not poisoned");
        *requests.entry(format!("{method} {path}")).or_default() += 1;
    }
}

/// Whether the request that starts at `head` is to a refused path.
fn is_refused(state: &LinkState, head: &str) -> bool {
    let refused = state.refused.lock().expect("not poisoned");
    refused
        .as_ref()
        .is_some_and(|r| head.starts_with(r.as_str()))
}

/// How many of `n` bytes may pass `budget`; marks the link down once it is spent.
fn take_budget(state: &LinkState, budget: &AtomicU64, n: usize) -> usize {
    if state.down.load(Ordering::SeqCst) {
        return 0;
    }
    let mut allowed = 0;
    let _ = budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
        allowed = left.min(n as u64) as usize;
        Some(left - allowed as u64)
    });
    if allowed < n {
        state.down.store(true, Ordering::SeqCst);
    }
    allowed
}
