pub mod glob;
pub mod num;
pub mod wake;

/// Microseconds on the monotonic clock: what `Instant::now()` reads, without
/// its `Duration` arithmetic (timing every command is on the hot path).
pub fn mono_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// Offers this thread's core to any other thread waiting to run on it, and
/// returns at once when none is. Long CPU work that may share a core with
/// latency-sensitive threads (the executor's snapshot walk, the snapshot
/// writer) calls it between short steps: the scheduler would otherwise let
/// it run out a whole slice (1.5 ms on 2 cores) before a woken thread runs.
pub fn yield_cpu() {
    // SAFETY: a plain syscall without arguments.
    unsafe {
        libc::sched_yield();
    }
}
