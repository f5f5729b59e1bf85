//! Latencies and throughput of one variant, gathered over several measuring windows.

use std::time::Duration;

/// Transactions completed in measuring windows, and the latency of each.
///
/// Throughput is completions divided by the summed window time; percentiles use the
/// nearest-rank method over every recorded latency.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    latencies_ns: Vec<u64>,
    window: Duration,
    sorted: bool,
}

impl Samples {
    /// No samples yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one completed transaction.
    pub fn record(&mut self, latency: Duration) {
        self.latencies_ns
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        self.sorted = false;
    }

    /// Adds the length of a measuring window in which the recorded transactions
    /// completed.
    pub fn add_window(&mut self, window: Duration) {
        self.window += window;
    }

    /// Takes in another set of samples (another window or another task).
    pub fn merge(&mut self, other: Samples) {
        self.latencies_ns.extend(other.latencies_ns);
        self.window += other.window;
        self.sorted = false;
    }

    /// Transactions recorded.
    #[must_use]
    pub fn count(&self) -> usize {
        self.latencies_ns.len()
    }

    /// Summed measuring windows.
    #[must_use]
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Transactions per second over the windows (0 without a window).
    #[must_use]
    pub fn per_second(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 {
            self.count() as f64 / secs
        } else {
            0.0
        }
    }

    /// The `q`-quantile (0 < q ≤ 1) of the latencies by nearest rank, or `None` without
    /// samples.
    pub fn quantile(&mut self, q: f64) -> Option<Duration> {
        if self.latencies_ns.is_empty() {
            return None;
        }
        if !self.sorted {
            self.latencies_ns.sort_unstable();
            self.sorted = true;
        }
        let n = self.latencies_ns.len();
        // Nearest rank: the smallest value with at least q·n values at or below it.
        let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
        let index = rank.clamp(1, n) - 1;
        self.latencies_ns
            .get(index)
            .map(|&ns| Duration::from_nanos(ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::new();
        assert_eq!(s.quantile(0.5), None);
        // 1..=100 ms in a scrambled order.
        for i in 0..100u64 {
            s.record(ms((i * 37) % 100 + 1));
        }
        assert_eq!(s.quantile(0.5), Some(ms(50)));
        assert_eq!(s.quantile(0.99), Some(ms(99)));
        assert_eq!(s.quantile(1.0), Some(ms(100)));
        assert_eq!(s.quantile(0.001), Some(ms(1)));
        s.record(ms(1000));
        assert_eq!(s.quantile(1.0), Some(ms(1000)));
        assert_eq!(s.quantile(0.5), Some(ms(51)));
    }

    #[test]
    fn throughput_counts_over_summed_windows() {
        let mut a = Samples::new();
        assert_eq!(a.per_second(), 0.0);
        for _ in 0..30 {
            a.record(ms(2));
        }
        a.add_window(ms(500));
        let mut b = Samples::new();
        for _ in 0..20 {
            b.record(ms(3));
        }
        b.add_window(ms(500));
        a.merge(b);
        assert_eq!(a.count(), 50);
        assert_eq!(a.window(), ms(1000));
        assert!((a.per_second() - 50.0).abs() < 1e-9);
        assert_eq!(a.quantile(1.0), Some(ms(3)));
    }
}
