//! CLIENT PAUSE: for a while, commands of normal clients (all of them, or
//! only those that may write) wait instead of running. A paused client's
//! connection task holds the command and sleeps until the pause ends or
//! CLIENT UNPAUSE wakes it, so the executor itself never waits.

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

impl Server {
    /// The end of the pause `args` must wait for, if any.
    pub fn paused_until(&mut self, client: &Client, args: &[Bytes]) -> Option<Instant> {
        let p = self.pause?;
        if Instant::now() >= p.until {
            self.unpause();
            return None;
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

    pub fn pause(&mut self, until: Instant, all: bool) {
        // A new pause never shortens or weakens one in force.
        let p = match self.pause {
            Some(old) if old.until > Instant::now() => Pause {
                until: old.until.max(until),
                all: old.all || all,
            },
            _ => Pause { until, all },
        };
        self.pause = Some(p);
    }

    /// Ends the pause and wakes the clients waiting for it.
    pub fn unpause(&mut self) {
        self.pause = None;
        for c in self.clients.values() {
            if c.paused.get() {
                c.wake.notify_one();
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
