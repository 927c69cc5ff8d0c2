//! What the operator sees of each command once it has run: the slow log,
//! the latency monitor and the MONITOR feed. `after_command` is on the hot
//! path, so each part is behind a cheap test of whether it is enabled.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::slowlog::is_secret;
use super::{outlimit, Client, Server};
use crate::commands::{Command, ADMIN, FAST, SKIP_MONITOR, SKIP_SLOWLOG};
use crate::config::D;

impl Server {
    /// Records a command that ran for `usec` microseconds.
    pub fn after_command(&mut self, cmd: &Command, client: &Client, args: &[Bytes], usec: u64) {
        let slower_than = self.cfg.int(D::SLOWLOG_LOG_SLOWER_THAN);
        if slower_than >= 0 && usec >= slower_than as u64 && cmd.flags & SKIP_SLOWLOG == 0 {
            let max = self.cfg.int(D::SLOWLOG_MAX_LEN).max(0) as usize;
            self.slowlog.push(args, usec, client, max);
        }
        let threshold = self.cfg.int(D::LATENCY_MONITOR_THRESHOLD);
        if threshold > 0 && usec / 1000 >= threshold as u64 {
            let event = if cmd.flags & FAST != 0 {
                "fast-command"
            } else {
                "command"
            };
            self.latency.add(event, usec / 1000);
        }
        if !self.monitors.is_empty()
            && cmd.flags & (SKIP_MONITOR | ADMIN) == 0
            && !runs_scripts(cmd.name)
        {
            self.feed_monitors(client, args);
        }
    }

    /// MONITOR shows a script call before the commands the script runs
    /// (even though these commands are flagged skip_monitor, as in Redis).
    pub fn before_command(&mut self, cmd: &Command, client: &Client, args: &[Bytes]) {
        if runs_scripts(cmd.name) {
            self.feed_monitors(client, args);
        }
    }

    /// Sends a command's MONITOR line to every monitoring client.
    pub fn feed_monitors(&mut self, client: &Client, args: &[Bytes]) {
        let line = monitor_line(client, args, self.scripting.running.is_some());
        let limits = self.out_limits;
        self.monitors.retain(|id| self.clients.contains_key(id));
        for id in &self.monitors {
            if let Some(m) = self.clients.get(id) {
                outlimit::deliver(m, &line, limits.normal);
            }
        }
    }

    /// A latency-monitor event measured outside command execution
    /// (expire cycle, eviction).
    pub fn latency_event(&mut self, event: &'static str, ms: u64) {
        let threshold = self.cfg.int(D::LATENCY_MONITOR_THRESHOLD);
        if threshold > 0 && ms >= threshold as u64 {
            self.latency.add(event, ms);
        }
    }
}

/// `+1339518083.107412 [0 127.0.0.1:60866] "set" "x" "6"`, the line Redis
/// sends to MONITOR clients.
/// Commands a script runs show `lua` as their client.
fn monitor_line(client: &Client, args: &[Bytes], from_script: bool) -> Vec<u8> {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let addr = if from_script {
        "lua".to_string()
    } else if client.unix {
        format!(
            "unix:{}",
            client.addr.strip_suffix(":0").unwrap_or(&client.addr)
        )
    } else {
        client.addr.clone()
    };
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        t.as_secs(),
        t.subsec_micros(),
        client.db.get(),
        addr
    )
    .into_bytes();
    for (i, a) in args.iter().enumerate() {
        line.push(b' ');
        if is_secret(args, i) {
            repr(&mut line, b"(redacted)");
        } else {
            repr(&mut line, a);
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// EVAL, EVALSHA, FCALL and their read-only forms.
fn runs_scripts(name: &str) -> bool {
    name.starts_with("eval") || name.starts_with("fcall")
}

/// A quoted, escaped rendering of `s` that is always printable, in the
/// notation redis-cli and MONITOR use.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn repr_escapes_like_redis() {
        let mut v = Vec::new();
        super::repr(&mut v, b"a\"b\\\n\r\t\x07\x08\x00\xff z");
        assert_eq!(v, b"\"a\\\"b\\\\\\n\\r\\t\\a\\b\\x00\\xff z\"".to_vec());
    }
}
