//! Latency figures: the latency monitor (events that took at least
//! `latency-monitor-threshold` milliseconds, kept per event class as a short
//! time series for LATENCY LATEST/HISTORY/GRAPH/DOCTOR) and the per-command
//! latency histograms behind LATENCY HISTOGRAM and INFO latencystats.

use std::collections::{BTreeMap, VecDeque};

/// Samples kept per event, as in Redis.
const HISTORY_LEN: usize = 160;

#[derive(Default)]
pub struct Series {
    /// (unix seconds, milliseconds), oldest first.
    pub samples: VecDeque<(i64, u64)>,
    pub max: u64,
}

#[derive(Default)]
pub struct Monitor {
    pub events: BTreeMap<&'static str, Series>,
}

impl Monitor {
    /// Records a spike of `ms` milliseconds for `event` now. Spikes within
    /// the same second merge into one sample holding the largest.
    pub fn add(&mut self, event: &'static str, ms: u64) {
        let now = super::now_ms() / 1000;
        let s = self.events.entry(event).or_default();
        s.max = s.max.max(ms);
        match s.samples.back_mut() {
            Some(last) if last.0 == now => last.1 = last.1.max(ms),
            _ => {
                s.samples.push_back((now, ms));
                if s.samples.len() > HISTORY_LEN {
                    s.samples.pop_front();
                }
            }
        }
    }

    /// LATENCY GRAPH: a sparkline of the event's samples, newest right, with
    /// each sample's age written vertically under its column.
    pub fn graph(&self, event: &str) -> Option<String> {
        let s = self.events.get(event)?;
        s.samples.back()?;
        let hi = s.samples.iter().map(|x| x.1).max().unwrap_or(0);
        let lo = s.samples.iter().map(|x| x.1).min().unwrap_or(0);
        let mut text = format!(
            "{event} - high {hi} ms, low {lo} ms (all time high {} ms)\n",
            s.max
        );
        text.push_str(&"-".repeat(80));
        text.push('\n');
        const ROWS: u64 = 4;
        // Each row is worth two levels: '_' marks a half step, '|' or '#' a full one.
        let level = |v: u64| -> u64 {
            if hi == lo {
                ROWS * 2
            } else {
                1 + (v - lo) * (ROWS * 2 - 1) / (hi - lo)
            }
        };
        let cols: Vec<u64> = s.samples.iter().map(|x| level(x.1)).collect();
        for row in (0..ROWS).rev() {
            let line: String = cols
                .iter()
                .map(|&l| {
                    let full = row * 2 + 2;
                    if l > full {
                        '|'
                    } else if l == full {
                        '#'
                    } else if l == full - 1 {
                        '_'
                    } else {
                        ' '
                    }
                })
                .collect();
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text.push('\n');
        let now = super::now_ms() / 1000;
        let labels: Vec<Vec<u8>> = s
            .samples
            .iter()
            .map(|x| age_label(now - x.0).into_bytes())
            .collect();
        let height = labels.iter().map(|l| l.len()).max().unwrap_or(0);
        for r in 0..height {
            let line: String = labels
                .iter()
                .map(|l| l.get(r).map_or(' ', |&c| c as char))
                .collect();
            text.push_str(line.trim_end());
            text.push('\n');
        }
        Some(text)
    }
}

/// "12s", "3m", "2h", "1d": how long ago a sample was taken.
fn age_label(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Counts of command durations in nanoseconds, with two significant
/// figures (every bucket is within 1% of its values) from 1 ns to 1 s,
/// the layout Redis's HDR histograms use, so percentiles read the same.
pub struct Histogram {
    counts: Box<[u64]>,
    pub total: u64,
}

const SUB: u64 = 128;
const MAX_NS: u64 = 1_000_000_000;
const BUCKETS: usize = 256 + 23 * SUB as usize;

fn index_of(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros() as u64;
    let shift = msb - 7;
    let sub = v >> shift;
    (2 * SUB + (shift - 1) * SUB + (sub - SUB)) as usize
}

/// The lowest and highest values that fall in bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < 2 * SUB {
        return (i, i);
    }
    let shift = (i - 2 * SUB) / SUB + 1;
    let sub = (i - 2 * SUB) % SUB + SUB;
    (sub << shift, ((sub + 1) << shift) - 1)
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, ns: u64) {
        let i = index_of(ns.clamp(1, MAX_NS));
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
            self.total += 1;
        }
    }

    /// The value below which `p` percent of the samples fall, in ns (the
    /// top of its bucket).
    pub fn percentile(&self, p: f64) -> u64 {
        let want = ((p / 100.0 * self.total as f64).ceil() as u64).clamp(1, self.total.max(1));
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if c > 0 && seen >= want {
                return bounds(i).1;
            }
        }
        0
    }

    /// LATENCY HISTOGRAM's buckets: (microseconds, cumulative count) for
    /// each power of two that has samples up to it (1024 ns per step, as
    /// Redis's logarithmic iteration reports).
    pub fn pow2_buckets(&self) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = Vec::new();
        let mut cum = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            cum += c;
            let lo = bounds(i).0;
            let mut key = 1u64;
            while key * 1024 < lo {
                key *= 2;
            }
            match v.last_mut() {
                Some(last) if last.0 == key => last.1 = cum,
                _ => v.push((key, cum)),
            }
        }
        v
    }
}

/// The percentiles of `latency-tracking-info-percentiles` as INFO labels
/// them: p50, p99, p99.9.
pub fn percentile_label(p: f64) -> String {
    let s = format!("{p}");
    format!("p{s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_two_significant_figures() {
        for v in [1u64, 255, 256, 1000, 2000, 9000, 933_000, 999_999_999] {
            let (lo, hi) = bounds(index_of(v));
            assert!(lo <= v && v <= hi, "{v} not in {lo}..{hi}");
            assert!((hi - lo) as f64 <= v as f64 / 100.0 + 1.0);
        }
        // Redis reports 1 usec as 1.003 and 2 usec as 2.007.
        assert_eq!(bounds(index_of(1000)).1, 1003);
        assert_eq!(bounds(index_of(2000)).1, 2007);
        assert_eq!(bounds(index_of(9000)).1, 9023);
    }

    #[test]
    fn percentiles_and_power_of_two_buckets() {
        let mut h = Histogram::default();
        for us in [2u64, 7, 9] {
            h.record(us * 1000);
        }
        assert_eq!(h.percentile(50.0), 7007);
        assert_eq!(h.percentile(100.0), 9023);
        assert_eq!(h.pow2_buckets(), vec![(2, 1), (8, 2), (16, 3)]);
    }
}
