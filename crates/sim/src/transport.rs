//! The network between the tablets and the server in the simulation, and its faults: a
//! request lost, an answer lost (the server applied it, the tablet does not know), a request
//! delivered twice, an old request delivered late (reordered), the tablet crashing mid-sync.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use field_core::sync::Transport;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::server::SimServer;

/// The kinds of fault injected, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    RequestLost,
    ResponseLost,
    Duplicated,
    DeliveredLate,
    DeviceCrash,
    ServerRestart,
    ServerRestoredFromBackup,
    DeviceOffline,
    ClockWrong,
}

/// How often each network fault strikes a request, while faults are on.
#[derive(Debug, Clone, Copy)]
pub struct FaultRates {
    pub request_lost: f64,
    pub response_lost: f64,
    pub duplicated: f64,
    /// A copy of the request is kept and delivered again later.
    pub kept_for_later: f64,
    /// A kept request is delivered before this one.
    pub late_delivery: f64,
    pub crash: f64,
}

impl FaultRates {
    /// No faults: the network heals.
    pub const NONE: FaultRates = FaultRates {
        request_lost: 0.0,
        response_lost: 0.0,
        duplicated: 0.0,
        kept_for_later: 0.0,
        late_delivery: 0.0,
        crash: 0.0,
    };
}

/// The network's state, shared by every tablet's transport.
#[derive(Debug)]
pub struct Network {
    pub server: SimServer,
    pub rng: ChaCha8Rng,
    pub rates: FaultRates,
    /// Requests kept to be delivered late: (path, credential, body).
    late: Vec<(String, Option<String>, Vec<u8>)>,
    pub faults: BTreeMap<Fault, u64>,
    /// A simulated crash was thrown (a panic): the simulation tells it from a real one.
    pub crashed: bool,
    pub requests: u64,
}

impl Network {
    pub fn new(server: SimServer, rng: ChaCha8Rng) -> Network {
        Network {
            server,
            rng,
            rates: FaultRates::NONE,
            late: Vec::new(),
            faults: BTreeMap::new(),
            crashed: false,
            requests: 0,
        }
    }

    pub fn count(&mut self, fault: Fault) {
        *self.faults.entry(fault).or_default() += 1;
    }
}

/// A tablet's connection to the shared network.
#[derive(Debug, Clone)]
pub struct SimTransport(pub Arc<Mutex<Network>>);

/// What happens to one request.
enum Fate {
    Delivered,
    Lost,
    AnswerLost,
    Twice,
    Crash,
}

impl Transport for SimTransport {
    fn post(
        &mut self,
        path: &str,
        credential: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let mut net = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        net.requests += 1;
        let rates = net.rates;
        // An old request arrives now, out of order; its answer goes nowhere.
        if !net.late.is_empty() && net.rng.random_bool(rates.late_delivery) {
            let len = net.late.len();
            let i = net.rng.random_range(0..len);
            let (p, c, b) = net.late.swap_remove(i);
            let (status, _) = net.server.call(&p, c.as_deref(), &b);
            if crate::tracing_on() {
                eprintln!("    late {p} -> {status}");
            }
            net.count(Fault::DeliveredLate);
        }
        if net.rng.random_bool(rates.kept_for_later) {
            net.late.push((
                path.to_owned(),
                credential.map(str::to_owned),
                body.to_vec(),
            ));
        }
        let roll: f64 = net.rng.random();
        let mut edge = 0.0;
        let mut next = |p: f64| {
            edge += p;
            roll < edge
        };
        let fate = if next(rates.crash) {
            Fate::Crash
        } else if next(rates.request_lost) {
            Fate::Lost
        } else if next(rates.response_lost) {
            Fate::AnswerLost
        } else if next(rates.duplicated) {
            Fate::Twice
        } else {
            Fate::Delivered
        };
        if crate::tracing_on() {
            let fate_name = match fate {
                Fate::Delivered => "delivered",
                Fate::Lost => "LOST",
                Fate::AnswerLost => "ANSWER LOST",
                Fate::Twice => "TWICE",
                Fate::Crash => "CRASH",
            };
            eprintln!("    {path} {fate_name}");
        }
        match fate {
            Fate::Delivered => Ok(net.server.call(path, credential, body)),
            Fate::Lost => {
                net.count(Fault::RequestLost);
                Err("simulated: the request was lost".into())
            }
            Fate::AnswerLost => {
                net.server.call(path, credential, body);
                net.count(Fault::ResponseLost);
                Err("simulated: the answer was lost".into())
            }
            Fate::Twice => {
                net.server.call(path, credential, body);
                net.count(Fault::Duplicated);
                Ok(net.server.call(path, credential, body))
            }
            Fate::Crash => {
                // The request may or may not have reached the server when the tablet died.
                if net.rng.random_bool(0.5) {
                    net.server.call(path, credential, body);
                }
                net.count(Fault::DeviceCrash);
                net.crashed = true;
                drop(net);
                std::panic::panic_any(SimulatedCrash);
            }
        }
    }
}

/// The payload of a simulated tablet crash.
#[derive(Debug, Clone, Copy)]
pub struct SimulatedCrash;
