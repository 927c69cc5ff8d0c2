//! Per-key access metadata, the 32-bit word in each `Entry`: under an LRU
//! (or non-LFU) policy it is the access time in seconds; under an LFU policy
//! it holds the last decrement time in minutes (high 16 bits) and a
//! logarithmic access counter (low 8 bits), as Redis keeps it. Switching
//! policy at runtime reinterprets the word, as in Redis (hence OBJECT's
//! warning that "data will take some time to adjust").

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

use rand::Rng;

static LFU: AtomicBool = AtomicBool::new(false);
static LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static DECAY_MINUTES: AtomicU32 = AtomicU32::new(1);
/// Set while a CLIENT NO-TOUCH client's command runs.
static NO_TOUCH: AtomicBool = AtomicBool::new(false);

/// Counter value of a new key, so it is not evicted before it can be used.
pub const LFU_INIT: u8 = 5;

/// Applies maxmemory-policy, lfu-log-factor and lfu-decay-time.
pub fn configure(lfu: bool, log_factor: i64, decay_minutes: i64) {
    LFU.store(lfu, Relaxed);
    LOG_FACTOR.store(log_factor.clamp(0, u32::MAX as i64) as u32, Relaxed);
    DECAY_MINUTES.store(decay_minutes.clamp(0, u32::MAX as i64) as u32, Relaxed);
}

pub fn lfu_mode() -> bool {
    LFU.load(Relaxed)
}

pub fn lru_clock(now_ms: i64) -> u32 {
    (now_ms / 1000) as u32
}

fn minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) as u32) & 0xFFFF
}

/// The word for a key just created.
pub fn fresh(now_ms: i64) -> u32 {
    if lfu_mode() {
        (minutes(now_ms) << 8) | LFU_INIT as u32
    } else {
        lru_clock(now_ms)
    }
}

/// The LFU counter after decay for the minutes since its last decrement.
pub fn lfu_count(word: u32, now_ms: i64) -> u8 {
    let counter = (word & 0xFF) as u8;
    let last = (word >> 8) & 0xFFFF;
    let now = minutes(now_ms);
    let elapsed = if now >= last {
        now - last
    } else {
        0xFFFF - last + now
    };
    let decay = DECAY_MINUTES.load(Relaxed);
    let periods = if decay > 0 { elapsed / decay } else { 0 };
    counter.saturating_sub(periods.min(255) as u8)
}

/// Whether accesses leave the metadata alone (CLIENT NO-TOUCH).
pub fn set_no_touch(on: bool) {
    NO_TOUCH.store(on, Relaxed);
}

/// Records an access.
pub fn touch(word: &mut u32, now_ms: i64) {
    if NO_TOUCH.load(Relaxed) {
        return;
    }
    if !lfu_mode() {
        *word = lru_clock(now_ms);
        return;
    }
    let mut c = lfu_count(*word, now_ms);
    if c < 255 {
        // Logarithmic increment: the higher the counter, the less likely.
        let base = c.saturating_sub(LFU_INIT) as f64;
        let p = 1.0 / (base * LOG_FACTOR.load(Relaxed) as f64 + 1.0);
        if rand::thread_rng().gen::<f64>() < p {
            c += 1;
        }
    }
    *word = (minutes(now_ms) << 8) | c as u32;
}

/// How good an eviction candidate a key is (higher = evict first) under
/// LRU or LFU.
pub fn eviction_score(word: u32, now_ms: i64) -> u64 {
    if lfu_mode() {
        255 - lfu_count(word, now_ms) as u64
    } else {
        lru_clock(now_ms).wrapping_sub(word) as u64
    }
}
