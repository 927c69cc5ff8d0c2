//! Busy-polling under sustained load (`busy-poll-usec`).
//!
//! A server that finishes each batch and blocks in epoll_wait makes the
//! next client write pay to wake it: on a VM that is ~8 us of the client's
//! kernel time per wake (measured, session 6), which is what a
//! single-threaded client such as redis-benchmark at -P 1 loses. While the
//! loop has been busy at least half of the last few milliseconds, a task
//! here keeps yielding instead, so tokio polls epoll without blocking, until
//! no work has come for `busy-poll-usec`. A lightly loaded or idle server
//! never spins: the decision reads the busy share of the loop, measured at
//! each park (runtime hooks) and during the spin itself.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::config::D;
use crate::server::Server;

/// The busy share is judged over windows this long.
const WINDOW: Duration = Duration::from_millis(5);
/// Spin only when the loop was busy for at least this many tenths of the
/// last window. At half busy, spinning doubles the server's CPU at most;
/// with 50 clients at -P 1, 5 tenths engaged it fully where 7 left it
/// flapping at the edge (the loop is ~75% busy there without spinning).
const BUSY_TENTHS: u32 = 5;

struct State {
    window_start: Cell<Option<Instant>>,
    idle: Cell<Duration>,
    parked_at: Cell<Option<Instant>>,
    loaded: Cell<bool>,
    /// Batches of requests served; the spinner watches it move.
    work: Cell<u64>,
    /// The spinner, while it waits for load.
    waiting: RefCell<Option<Waker>>,
}

thread_local! {
    static STATE: State = const {
        State {
            window_start: Cell::new(None),
            idle: Cell::new(Duration::ZERO),
            parked_at: Cell::new(None),
            loaded: Cell::new(false),
            work: Cell::new(0),
            waiting: RefCell::new(None),
        }
    };
}

impl State {
    fn add_idle(&self, d: Duration) {
        self.idle.set(self.idle.get() + d);
    }

    /// Closes the window once it is long enough, deciding `loaded`.
    fn roll(&self, now: Instant) {
        let Some(start) = self.window_start.get() else {
            self.window_start.set(Some(now));
            return;
        };
        let elapsed = now.saturating_duration_since(start);
        if elapsed < WINDOW {
            return;
        }
        let idle = self.idle.get().min(elapsed);
        self.loaded.set(idle * 10 <= elapsed * (10 - BUSY_TENTHS));
        self.window_start.set(Some(now));
        self.idle.set(Duration::ZERO);
    }
}

/// Runtime hook (`on_thread_park`): the loop is about to block.
pub fn parking() {
    STATE.with(|s| s.parked_at.set(Some(Instant::now())));
}

/// Runtime hook (`on_thread_unpark`): the loop woke up.
pub fn unparked() {
    STATE.with(|s| {
        let now = Instant::now();
        if let Some(at) = s.parked_at.take() {
            s.add_idle(now.saturating_duration_since(at));
        }
        s.roll(now);
    });
}

/// Called by a connection after each batch it served: a counter bump, a
/// flag read, and a wake of the spinner when load has just picked up.
#[inline]
pub fn note_work() {
    STATE.with(|s| {
        s.work.set(s.work.get().wrapping_add(1));
        if s.loaded.get() {
            if let Some(w) = s.waiting.borrow_mut().take() {
                w.wake();
            }
        }
    });
}

/// Whether the loop counts as busy (the spinner may be running).
pub fn loaded() -> bool {
    STATE.with(|s| s.loaded.get())
}

/// Waits until `note_work` sees load.
async fn wait_for_load() {
    let mut registered = false;
    poll_fn(|cx| {
        STATE.with(|s| {
            let mut w = s.waiting.borrow_mut();
            if registered && w.is_none() {
                return Poll::Ready(());
            }
            *w = Some(cx.waker().clone());
            registered = true;
            Poll::Pending
        })
    })
    .await
}

/// The spinner task, one per server.
pub async fn run(srv: Rc<RefCell<Server>>) {
    loop {
        let limit = Duration::from_micros(srv.borrow().cfg.int(D::BUSY_POLL_USEC) as u64);
        if limit.is_zero() {
            // Off: look at the setting again now and then (CONFIG SET).
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        wait_for_load().await;
        spin(limit).await;
    }
}

/// Yields (tokio then polls epoll without blocking) until no batch has
/// been served for `limit`, or the loop is no longer busy enough.
async fn spin(limit: Duration) {
    let (mut seen, start) = STATE.with(|s| (s.work.get(), Instant::now()));
    let (mut last_work, mut prev) = (start, start);
    loop {
        tokio::task::yield_now().await;
        let now = Instant::now();
        let go_on = STATE.with(|s| {
            let work = s.work.get();
            if work != seen {
                seen = work;
                last_work = now;
            } else {
                // A turn with nothing to do: spinning is idle time.
                s.add_idle(now.saturating_duration_since(prev));
            }
            s.roll(now);
            s.loaded.get() && now.saturating_duration_since(last_work) < limit
        });
        prev = now;
        if !go_on {
            return;
        }
    }
}
