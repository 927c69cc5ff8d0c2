//! SHUTDOWN's grace period for lagging replicas (Redis 7): unless NOW is
//! given (or `shutdown-timeout` is 0), a primary whose replicas have not
//! acknowledged the whole stream pauses writes, asks them for their
//! offsets and exits only once they all caught up or the timeout passed.
//! SIGTERM and SIGINT wait the same way. SHUTDOWN ABORT cancels the wait:
//! writes resume and the waiting SHUTDOWN callers get an error.

use std::time::{Duration, Instant};

use super::{Server, ShutdownMode};
use crate::config::D;
use crate::errors::Error;

pub const SHUTDOWN_ERR: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

pub struct Wait {
    pub deadline: Instant,
    pub mode: ShutdownMode,
    pub force: bool,
    /// Clients blocked in SHUTDOWN; none when a signal started it.
    pub clients: Vec<u64>,
}

impl Server {
    fn replicas_lagging(&self) -> bool {
        let off = self.repl.master_repl_offset;
        self.repl.replicas.iter().any(|r| r.ack_off < off)
    }

    /// Starts (or joins) the wait for lagging replicas; false when there
    /// is nothing to wait for and the shutdown may go on at once.
    pub fn shutdown_wait(&mut self, mode: ShutdownMode, force: bool, client: Option<u64>) -> bool {
        if let Some(w) = self.shutdown_wait.as_mut() {
            w.clients.extend(client);
            return true;
        }
        let secs = self.cfg.int(D::SHUTDOWN_TIMEOUT);
        if secs <= 0 || !self.replicas_lagging() {
            return false;
        }
        tracing::info!("Waiting for replicas before shutting down.");
        let now = Instant::now();
        self.pause(crate::server::pause::Purpose::Shutdown, now + Duration::from_secs(10 * 365 * 86400), false);
        self.repl_getack();
        self.shutdown_wait = Some(Wait {
            deadline: now + Duration::from_secs(secs as u64),
            mode,
            force,
            clients: client.into_iter().collect(),
        });
        true
    }

    /// SHUTDOWN ABORT: false when no shutdown is in progress.
    pub fn shutdown_abort(&mut self) -> bool {
        let Some(w) = self.shutdown_wait.take() else {
            return false;
        };
        tracing::info!("Shutdown manually aborted.");
        self.unpause(crate::server::pause::Purpose::Shutdown);
        self.shutdown_fail(&w.clients);
        true
    }

    /// Answers the clients waiting in SHUTDOWN with the error.
    fn shutdown_fail(&mut self, clients: &[u64]) {
        for id in clients {
            let Some(c) = self.clients.get(id).cloned() else {
                continue;
            };
            if self.unblock(&c).is_some() {
                let mut out = crate::resp::Out::new(c.resp.get() == 3);
                out.error(SHUTDOWN_ERR);
                c.pending.borrow_mut().extend_from_slice(&out.buf);
                c.wake.notify_one();
            }
        }
    }

    /// From the cron: once every replica caught up, or the time is up,
    /// the shutdown goes on.
    pub fn shutdown_wait_cron(&mut self) {
        let Some(w) = self.shutdown_wait.as_ref() else {
            return;
        };
        if self.replicas_lagging() && Instant::now() < w.deadline {
            return;
        }
        let Some(w) = self.shutdown_wait.take() else {
            return;
        };
        let off = self.repl.master_repl_offset;
        for r in self.repl.replicas.iter().filter(|r| r.ack_off < off) {
            tracing::warn!(
                "Lagging replica {}:{} reported offset {} behind master, lag={}, state={}.",
                r.ip(),
                r.hs.listening_port,
                off - r.ack_off.max(0),
                r.lag_secs(),
                r.state.name()
            );
        }
        let total = self.repl.replicas.len();
        let synced = self
            .repl
            .replicas
            .iter()
            .filter(|r| r.ack_off >= off)
            .count();
        tracing::info!("{synced} of {total} replicas are in sync when shutting down.");
        if w.clients.is_empty() {
            // A signal: the exit path saves as the mode says.
            self.shutdown = Some(w.mode);
            self.shutdown_notify.notify_one();
            return;
        }
        if self.shutdown_save(w.mode, w.force).is_err() {
            self.unpause(crate::server::pause::Purpose::Shutdown);
            self.shutdown_fail(&w.clients);
        }
    }

    /// The final save SHUTDOWN makes (when the mode and the save rules
    /// ask for one), then the exit; a failed save stops the shutdown
    /// unless FORCE.
    pub fn shutdown_save(&mut self, mode: ShutdownMode, force: bool) -> Result<(), Error> {
        let save = mode == ShutdownMode::Save
            || (mode == ShutdownMode::Default && !self.cfg.save_rules().is_empty());
        if save {
            tracing::info!("Saving the final RDB snapshot before exiting.");
            if let Err(e) = self.save_now() {
                if !force {
                    tracing::warn!("Error trying to save the DB, can't exit: {e}");
                    return Err(Error::msg(SHUTDOWN_ERR));
                }
                tracing::warn!("Error trying to save the DB: {e} (exiting anyway: FORCE)");
            }
        }
        // Already saved (or not wanted): the exit path must not save again.
        self.shutdown = Some(ShutdownMode::NoSave);
        self.shutdown_notify.notify_one();
        Ok(())
    }

    /// SIGTERM / SIGINT: true when the server may exit now, false when it
    /// waits for its replicas first (the cron then signals the exit).
    pub fn shutdown_on_signal(&mut self, directive: D) -> bool {
        let how = self.cfg.str(directive).to_string();
        let has = |w: &str| how.split_whitespace().any(|x| x == w);
        let mode = if has("nosave") {
            ShutdownMode::NoSave
        } else if has("save") {
            ShutdownMode::Save
        } else {
            ShutdownMode::Default
        };
        if !has("now") && self.shutdown_wait(mode, has("force"), None) {
            return false;
        }
        self.shutdown = Some(mode);
        true
    }
}
