//! Per-command counters for INFO commandstats and latencystats, LATENCY
//! HISTOGRAM and the rejected/failed counts: one slot per command and
//! subcommand, at its dense ACL registry id, so that counting a call is an
//! index rather than a hash of the command's name.

use crate::acl::selector::registry;
use crate::commands::Command;

use super::latency;

#[derive(Default)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Durations, while `latency-tracking` is on.
    pub hist: Option<latency::Histogram>,
}

impl CmdStat {
    /// Counted since the last reset: shown by INFO.
    fn used(&self) -> bool {
        self.calls > 0 || self.rejected > 0 || self.failed > 0
    }
}

#[derive(Default)]
pub struct CmdStats {
    /// Empty until the first count (and after a reset).
    slots: Vec<CmdStat>,
}

impl CmdStats {
    pub fn get_mut(&mut self, cmd: &'static Command) -> &mut CmdStat {
        let reg = registry();
        if self.slots.is_empty() {
            self.slots.resize_with(reg.all.len(), Default::default);
        }
        &mut self.slots[reg.id(cmd)]
    }

    /// The commands counted since the last reset, with their counters.
    pub fn iter(&self) -> impl Iterator<Item = (&'static &'static str, &CmdStat)> {
        registry()
            .all
            .iter()
            .zip(&self.slots)
            .filter(|(_, s)| s.used())
            .map(|(c, s)| (&c.name, s))
    }

    pub fn get(&self, name: &str) -> Option<&CmdStat> {
        self.iter().find(|(n, _)| **n == name).map(|(_, s)| s)
    }

    pub fn clear(&mut self) {
        self.slots = Vec::new();
    }
}
