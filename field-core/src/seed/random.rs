//! Draws from the run's one seeded stream: numbers, picks, days, times of day and record ids.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use rand::Rng;
use uuid::Uuid;

use super::{Generator, wib, years_before};

impl Generator {
    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    pub(super) fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        for (item, weight) in items {
            if roll < *weight {
                return *item;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the total weight")
    }

    /// A UUIDv7-shaped id: the seeding clock's next millisecond, and random bits from the
    /// seeded stream. Ids therefore increase in the order records are generated, so each table
    /// grows at its end, as on a device where records are made one after the other.
    pub(super) fn id(&mut self) -> Uuid {
        let mut bytes = [0u8; 10];
        self.rng.fill(&mut bytes);
        self.id_clock_ms += 1;
        uuid::Builder::from_unix_timestamp_millis(self.id_clock_ms, &bytes).into_uuid()
    }

    /// A day between `from` and `to`, both included (`from` if the range is empty).
    pub(super) fn day_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = (to - from).num_days().max(0);
        from + Duration::days(self.range(0, span))
    }

    /// A birth date giving an age of `min..=max` whole years today.
    pub(super) fn birth_for_age(&mut self, min: u32, max: u32) -> NaiveDate {
        let latest = years_before(self.today, min);
        let earliest = years_before(self.today, max + 1) + Duration::days(1);
        self.day_between(earliest, latest)
    }

    /// A working-day time of day: 08:00 to 15:30 WIB.
    pub(super) fn daytime(&mut self, day: NaiveDate) -> DateTime<FixedOffset> {
        let minutes = u32::try_from(self.range(8 * 60, 15 * 60 + 30)).expect("small");
        let time = chrono::NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0)
            .expect("valid time of day");
        day.and_time(time)
            .and_local_timezone(wib())
            .single()
            .expect("a fixed offset has one local time")
    }
}
