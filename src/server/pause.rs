//! CLIENT PAUSE: for a while, commands of normal clients (all of them, or
//! only those that may write) wait instead of running. A paused client's
//! connection task holds the command and sleeps until the pause ends or
//! CLIENT UNPAUSE wakes it, so the executor itself never waits.
//!
//! FAILOVER and SHUTDOWN's wait for replicas pause writes too. As in Redis,
//! each purpose keeps its own pause and the clients see the strongest one in
//! force, so a user's CLIENT UNPAUSE cannot release a failover's pause and
//! the end of a failover does not cancel a user's CLIENT PAUSE.

use std::time::Instant;

use bytes::Bytes;

use super::{exec, Client, Server};
use crate::commands::{MAY_REPLICATE, WRITE};

#[derive(Debug, Clone, Copy)]
pub struct Pause {
    pub until: Instant,
    /// ALL pauses every command; WRITE only those that may change data.
    pub all: bool,
}

/// Who asked for a pause; each is lifted on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ClientCommand = 0,
    Shutdown = 1,
    Failover = 2,
}

/// One slot per [`Purpose`].
pub type Pauses = [Option<Pause>; 3];

impl Server {
    /// The end of the pause `args` must wait for, if any.
    pub fn paused_until(&mut self, client: &Client, args: &[Bytes]) -> Option<Instant> {
        let mut p = self.pause?;
        if Instant::now() >= p.until {
            self.refresh_pause();
            p = self.pause?;
        }
        // Monitors are not paused, as replicas are not in Redis; commands
        // that fail to resolve get their error at once.
        if client.monitor.get() {
            return None;
        }
        let cmd = exec::resolve(args).ok()?;
        if !p.all && !may_write(cmd.flags, cmd.name, client) {
            return None;
        }
        client.last_cmd.set(cmd.name);
        Some(p.until)
    }

    pub fn pause(&mut self, purpose: Purpose, until: Instant, all: bool) {
        // A new pause never shortens or weakens one in force.
        let slot = &mut self.pauses[purpose as usize];
        *slot = Some(match *slot {
            Some(old) if old.until > Instant::now() => Pause {
                until: old.until.max(until),
                all: old.all || all,
            },
            _ => Pause { until, all },
        });
        self.refresh_pause();
    }

    /// Lifts `purpose`'s pause; clients stay paused while another purpose
    /// still holds one.
    pub fn unpause(&mut self, purpose: Purpose) {
        self.pauses[purpose as usize] = None;
        self.refresh_pause();
    }

    /// Recomputes the pause clients see (the latest end, ALL if any slot
    /// says ALL) after dropping expired slots, and wakes the waiting
    /// clients so they check again.
    fn refresh_pause(&mut self) {
        let now = Instant::now();
        let mut eff: Option<Pause> = None;
        for slot in self.pauses.iter_mut() {
            match *slot {
                Some(p) if p.until > now => {
                    eff = Some(match eff {
                        Some(e) => Pause {
                            until: e.until.max(p.until),
                            all: e.all || p.all,
                        },
                        None => p,
                    });
                }
                _ => *slot = None,
            }
        }
        let weaker = match (self.pause, eff) {
            (Some(old), Some(new)) => new.until < old.until || (old.all && !new.all),
            (Some(_), None) => true,
            _ => false,
        };
        self.pause = eff;
        if weaker {
            for c in self.clients.values() {
                if c.paused.get() {
                    c.wake.notify_one();
                }
            }
        }
    }

    /// Whether writes (and the expiry and eviction that delete keys) are
    /// paused now.
    pub fn writes_paused(&self) -> bool {
        self.pause.is_some_and(|p| p.until > Instant::now())
    }
}

/// A command that a WRITE pause holds: writes, commands that may
/// propagate (PUBLISH, scripts), and EXEC of a transaction holding one.
fn may_write(flags: u32, name: &str, client: &Client) -> bool {
    if flags & (WRITE | MAY_REPLICATE) != 0 {
        return true;
    }
    name == "exec"
        && client.multi.borrow().as_ref().is_some_and(|q| {
            q.iter()
                .any(|a| exec::resolve(a).is_ok_and(|c| c.flags & (WRITE | MAY_REPLICATE) != 0))
        })
}
