//! A TCP proxy between tablets and the server that cuts a share of its connections
//! mid-transfer, in either direction, as a flaky mobile link does. The load benchmark sends
//! every device through it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use crate::Result;

/// The running proxy; stops with its runtime when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, for devices to enroll with.
    pub url: String,
    /// Connections to cut, per million.
    cut_per_million: Arc<AtomicU32>,
    cuts: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl FaultProxy {
    /// Forwards to `target` (`127.0.0.1:PORT`), cutting nothing until told to.
    pub fn start(target: &str) -> Result<Self> {
        let target: SocketAddr = target.parse()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let url = format!("http://{}", listener.local_addr()?);
        let cut_per_million = Arc::new(AtomicU32::new(0));
        let cuts = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let (ratio, cut_count, count) =
            (cut_per_million.clone(), cuts.clone(), connections.clone());
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::Relaxed);
                // A fixed, well-mixed draw per connection: runs are repeatable in their cuts.
                let draw = splitmix(n);
                let cut = (draw % 1_000_000) < u64::from(ratio.load(Ordering::Relaxed));
                // Early enough that every connection gets there (a hello and its answer are a
                // few hundred bytes): a cut connection is always cut mid-request or mid-answer.
                let cut_at = cut.then(|| (draw >> 20) % 2_048 + 32);
                let upstream = (draw >> 40).is_multiple_of(2);
                let cut_count = cut_count.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(target).await
                        && relay(client, server, cut_at, upstream).await
                    {
                        cut_count.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        Ok(Self {
            url,
            cut_per_million,
            cuts,
            connections,
            _runtime: runtime,
        })
    }

    /// From now on, cuts this share of new connections.
    pub fn set_cut_ratio(&self, ratio: f64) {
        let per_million = (ratio.clamp(0.0, 1.0) * 1_000_000.0) as u32;
        self.cut_per_million.store(per_million, Ordering::Relaxed);
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// Relays both ways; with `cut_at`, drops the connection after that many bytes of the request
/// (`upstream`) or of the response. Returns whether it cut.
async fn relay(client: TcpStream, server: TcpStream, cut_at: Option<u64>, upstream: bool) -> bool {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, cut_at.filter(|_| upstream));
    let down = pump(server_read, client_write, cut_at.filter(|_| !upstream));
    tokio::pin!(up, down);
    // A direction that ends normally lets the other finish; a cut drops everything.
    let ended_normally = tokio::select! {
        finished = &mut up => finished && down.await,
        finished = &mut down => finished && up.await,
    };
    !ended_normally
}

/// Copies until end of stream (`true`), or until `limit` bytes have passed (`false`: cut).
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, limit: Option<u64>) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    let mut passed = 0u64;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return true;
            }
            Ok(n) => n,
        };
        if let Some(limit) = limit
            && passed + n as u64 >= limit
        {
            let keep = (limit - passed) as usize;
            let _ = to.write_all(&buf[..keep]).await;
            return false;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return true;
        }
        passed += n as u64;
    }
}

/// SplitMix64: a well-mixed number from a counter.
fn splitmix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
