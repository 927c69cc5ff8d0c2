//! FAILOVER: a coordinated handoff from this primary to one of its
//! replicas, without losing acknowledged writes.
//!
//! FAILOVER pauses writes (as CLIENT PAUSE WRITE does) and asks the
//! replicas for their offsets (`waiting-for-sync`). Once the target (the
//! TO replica, else the first one) has applied the whole stream, this
//! server becomes its replica (`failover-in-progress`) and the link's
//! handshake asks `PSYNC <replid> <offset> FAILOVER`: the target promotes
//! itself only if that id is the one it follows, and answers +CONTINUE, so
//! neither side needs a full resync. The pause ends when the target
//! accepted; if it refuses or cannot be reached, this server turns back
//! into a primary. TIMEOUT bounds the wait for the sync; with FORCE the
//! handoff to the TO target happens anyway when it expires.
//!
//! The target side is `Server::psync_failover`, called by PSYNC when a
//! fourth argument says FAILOVER.

use std::time::{Duration, Instant};

use crate::errors::Error;
use crate::server::Server;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    None,
    /// Writes are paused; waiting for the target to apply the stream.
    WaitingForSync,
    /// Demoted; the link to the target is asking it to take over.
    InProgress,
}

#[derive(Debug, Default)]
pub struct Failover {
    pub state: State,
    /// TO host port.
    pub to: Option<(String, u16)>,
    pub force: bool,
    pub deadline: Option<Instant>,
    /// The replica being handed to (in progress).
    pub target: Option<(String, u16)>,
}

/// What FAILOVER asked for.
pub struct Request {
    pub to: Option<(String, i64)>,
    pub force: bool,
    pub timeout_ms: Option<i64>,
}

impl Failover {
    fn describe(&self) -> String {
        match self.target.as_ref().or(self.to.as_ref()) {
            Some((h, p)) => format!("{h}:{p}"),
            None => "any replica".into(),
        }
    }
}

impl Server {
    pub fn failover_state_name(&self) -> &'static str {
        match self.repl.failover.state {
            State::None => "no-failover",
            State::WaitingForSync => "waiting-for-sync",
            State::InProgress => "failover-in-progress",
        }
    }

    pub fn failover_active(&self) -> bool {
        self.repl.failover.state != State::None
    }

    /// FAILOVER [TO host port [FORCE]] [TIMEOUT ms], checked in Redis's
    /// order.
    pub fn failover_start(&mut self, req: Request) -> Result<(), Error> {
        if req.timeout_ms.is_some_and(|t| t <= 0) {
            return Err(Error::msg("ERR FAILOVER timeout must be greater than 0"));
        }
        if self.is_replica() {
            return Err(Error::msg(
                "ERR FAILOVER is not valid when server is a replica.",
            ));
        }
        if self.repl.replicas.is_empty() {
            return Err(Error::msg("ERR FAILOVER requires connected replicas."));
        }
        if req.force && (req.to.is_none() || req.timeout_ms.is_none()) {
            return Err(Error::msg(
                "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
            ));
        }
        if self.failover_active() {
            return Err(Error::msg("ERR FAILOVER already in progress."));
        }
        if let Some((host, port)) = &req.to {
            let Some(r) = self
                .repl
                .replicas
                .iter()
                .find(|r| r.ip() == *host && i64::from(r.hs.listening_port) == *port)
            else {
                return Err(Error::msg(
                    "ERR FAILOVER target HOST and PORT is not a replica.",
                ));
            };
            if r.state != super::ReplicaState::Online {
                return Err(Error::msg("ERR FAILOVER target replica is not online."));
            }
        }
        let now = Instant::now();
        self.repl.failover = Failover {
            state: State::WaitingForSync,
            // (A replica's port fits in u16: the lookup above found it.)
            to: req.to.map(|(h, p)| (h, p as u16)),
            force: req.force,
            deadline: req
                .timeout_ms
                .map(|ms| now + Duration::from_millis(ms as u64)),
            target: None,
        };
        tracing::info!("FAILOVER requested to {}.", self.repl.failover.describe());
        // Until the failover ends, however long that takes.
        self.pause(crate::server::pause::Purpose::Failover, now + Duration::from_secs(10 * 365 * 86400), false);
        self.repl_getack();
        Ok(())
    }

    /// Ends a failover that has not completed: writes resume, and a
    /// server that had already demoted itself is a primary again.
    pub fn failover_abort(&mut self, why: &str) {
        let state = self.repl.failover.state;
        if state == State::None {
            return;
        }
        tracing::info!(
            "FAILOVER to {} aborted: {why}",
            self.repl.failover.describe()
        );
        self.repl.failover = Failover::default();
        if state == State::InProgress {
            self.replicaof_no_one("failover abort");
        }
        self.unpause(crate::server::pause::Purpose::Failover);
    }

    /// The target accepted PSYNC FAILOVER: it is the primary now.
    pub fn failover_done(&mut self) {
        if self.repl.failover.state != State::InProgress {
            return;
        }
        tracing::info!(
            "Failover target {} accepted the failover, this server is now its replica.",
            self.repl.failover.describe()
        );
        self.repl.failover = Failover::default();
        self.unpause(crate::server::pause::Purpose::Failover);
    }

    /// Whether the link's PSYNC must carry FAILOVER.
    pub fn failover_handing_off(&self) -> bool {
        self.repl.failover.state == State::InProgress
    }

    /// Hands off once the target has the whole stream, or gives up (or
    /// forces) when the timeout expires. Called on every replica ACK, so
    /// the handoff follows the target's catching up at once, and from the
    /// cron for the timeout.
    pub fn failover_progress(&mut self) {
        if self.repl.failover.state != State::WaitingForSync {
            return;
        }
        let f = &self.repl.failover;
        let expired = f.deadline.is_some_and(|d| Instant::now() >= d);
        let off = self.repl.master_repl_offset;
        let synced = self
            .repl
            .replicas
            .iter()
            .filter(|r| r.state == super::ReplicaState::Online && r.ack_off >= off)
            .map(|r| (r.ip(), r.hs.listening_port))
            .find(|t| f.to.as_ref().is_none_or(|to| to == t));
        let target = match (synced, expired) {
            (Some(t), _) => {
                tracing::info!("Failover target {}:{} is synced, failing over.", t.0, t.1);
                t
            }
            (None, true) => match (&f.to, f.force) {
                (Some(to), true) => {
                    tracing::info!(
                        "Failover target {}:{} never caught up before timeout, failing over anyway (FORCE).",
                        to.0,
                        to.1
                    );
                    to.clone()
                }
                _ => {
                    self.failover_abort("Replica never caught up before timeout");
                    return;
                }
            },
            (None, false) => return,
        };
        self.repl.failover.state = State::InProgress;
        self.repl.failover.target = Some(target.clone());
        self.set_master(target.0, target.1);
    }

    /// PSYNC <replid> <offset> FAILOVER on the target: take over if the
    /// caller is the primary this server follows (same history).
    pub fn psync_failover(&mut self, replid: &[u8], by: &str) -> Result<(), Error> {
        if replid != self.repl.replid.as_bytes() {
            return Err(Error::msg(
                "ERR PSYNC FAILOVER replid must match my replid.",
            ));
        }
        tracing::warn!(
            "Failover request received for replid {}.",
            String::from_utf8_lossy(replid)
        );
        if self.is_replica() {
            self.replicaof_no_one_by(by, "failover request");
        }
        Ok(())
    }
}
