//! A TCP link between a tablet and the server that can go down mid-transfer and come back,
//! as a mobile connection does when a team rides out of coverage.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
}

impl Link {
    /// Forwards to the server at `target` (`127.0.0.1:PORT`).
    pub fn start(target: &str) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let state = Arc::new(LinkState {
            budget: AtomicU64::new(u64::MAX),
            down: AtomicBool::new(false),
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

    /// Brings the link back, with no limit.
    pub fn restore(&self) {
        self.state.budget.store(u64::MAX, Ordering::SeqCst);
        self.state.down.store(false, Ordering::SeqCst);
    }
}

/// Copies both ways; the server-to-tablet direction spends the budget.
fn relay(client: TcpStream, server: TcpStream, state: Arc<LinkState>) {
    let (Ok(client_read), Ok(server_write)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    thread::spawn(move || copy(client_read, server_write, None));
    thread::spawn(move || copy(server, client, Some(state)));
}

fn copy(mut from: TcpStream, mut to: TcpStream, limit: Option<Arc<LinkState>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let allowed = match &limit {
            None => n,
            Some(state) => take_budget(state, n),
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
