//! Where "now" comes from. Only plausibility checks, default timestamps and the worklist's
//! "today" read it: no merge or ordering does (tablets' clocks are often wrong).

use chrono::{DateTime, FixedOffset, Local};

/// A source of the current time, injectable for tests.
pub trait Clock: Send {
    /// Now, in the device's UTC offset.
    fn now(&self) -> DateTime<FixedOffset>;
}

/// The device's own clock and time zone.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<FixedOffset> {
        Local::now().fixed_offset()
    }
}

/// A clock that always says the same time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<FixedOffset>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<FixedOffset> {
        self.0
    }
}
