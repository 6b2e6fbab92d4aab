//! Percentiles by sorting the samples: a run keeps a few thousand, so nothing cleverer (a
//! histogram) is needed.

use std::time::Duration;

/// A distribution of timings, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub samples: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
}

impl Summary {
    pub fn of(samples: &[Duration]) -> Self {
        assert!(!samples.is_empty(), "no samples");
        let mut us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        us.sort_by(f64::total_cmp);
        Self {
            samples: us.len(),
            p50_us: percentile(&us, 0.50),
            p99_us: percentile(&us, 0.99),
            mean_us: us.iter().sum::<f64>() / us.len() as f64,
        }
    }
}

/// The nearest-rank percentile `p` (0..=1) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    debug_assert!(sorted.is_sorted_by(|a, b| a <= b));
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The index of the median item by `key` (the lower middle one for an even count); `None`
/// when there are no items.
pub fn median_index<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Option<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| key(&items[i]));
    order.get(items.len().saturating_sub(1) / 2).copied()
}

/// The median of some values (the mean of the middle two when their number is even).
pub fn median(values: &[f64]) -> f64 {
    assert!(!values.is_empty(), "no values");
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median_index(&[5, 1, 9], |x| *x), Some(0));
        assert_eq!(median_index(&[5, 1, 9, 7], |x| *x), Some(0));
        assert_eq!(median_index::<u8, u8>(&[], |x| *x), None);
    }
}
