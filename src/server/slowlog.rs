//! The slow log: commands whose execution took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len` of them. Arguments are shortened as Redis shortens
//! them (32 arguments, 128 bytes each) so one huge command cannot pin
//! memory in the log.

use std::collections::VecDeque;

use bytes::Bytes;

use super::Client;
use crate::resp::Out;

const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

pub struct Entry {
    pub id: u64,
    pub time: i64,
    pub usec: u64,
    pub argv: Vec<Vec<u8>>,
    pub addr: String,
    pub name: Vec<u8>,
}

#[derive(Default)]
pub struct SlowLog {
    /// Newest at the front.
    pub entries: VecDeque<Entry>,
    next_id: u64,
}

/// The arguments as the log keeps them: past 31 arguments a note of how
/// many more there were, past 128 bytes a note of how many more bytes.
/// Secrets (AUTH, HELLO ... AUTH) are redacted.
pub fn shorten_args(args: &[Bytes]) -> Vec<Vec<u8>> {
    let keep = if args.len() > MAX_ARGC {
        MAX_ARGC - 1
    } else {
        args.len()
    };
    let mut v: Vec<Vec<u8>> = args[..keep]
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if is_secret(args, i) {
                b"(redacted)".to_vec()
            } else if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                s
            } else {
                a.to_vec()
            }
        })
        .collect();
    if args.len() > keep {
        v.push(format!("... ({} more arguments)", args.len() - keep).into_bytes());
    }
    v
}

/// Whether argument `i` is a password or user name that logs and MONITOR
/// must not show: every argument of AUTH, the two after HELLO's AUTH.
pub fn is_secret(args: &[Bytes], i: usize) -> bool {
    if args[0].eq_ignore_ascii_case(b"auth") {
        return i >= 1;
    }
    args[0].eq_ignore_ascii_case(b"hello")
        && (1..=2).any(|back| i >= 2 + back && args[i - back].eq_ignore_ascii_case(b"auth"))
}

impl SlowLog {
    pub fn push(&mut self, args: &[Bytes], usec: u64, client: &Client, max_len: usize) {
        let entry = Entry {
            id: self.next_id,
            time: super::now_ms() / 1000,
            usec,
            argv: shorten_args(args),
            addr: client.addr.clone(),
            name: client.name.borrow().clone().unwrap_or_default(),
        };
        self.next_id += 1;
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }

    /// SLOWLOG GET: the newest `count` entries (all when negative).
    pub fn reply(&self, out: &mut Out, count: i64) {
        let n = if count < 0 {
            self.entries.len()
        } else {
            (count as usize).min(self.entries.len())
        };
        out.array(n);
        for e in self.entries.iter().take(n) {
            out.array(6);
            out.int(e.id as i64);
            out.int(e.time);
            out.int(e.usec as i64);
            out.array(e.argv.len());
            for a in &e.argv {
                out.bulk(a);
            }
            out.bulk(e.addr.as_bytes());
            out.bulk(&e.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn long_commands_are_shortened() {
        let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
        let v = shorten_args(&args(&refs));
        assert_eq!(v.len(), 32);
        assert_eq!(v[31], b"... (9 more arguments)");
        let big = "x".repeat(130);
        let v = shorten_args(&args(&["set", &big]));
        assert!(v[1].ends_with(b"... (2 more bytes)"));
        assert_eq!(v[1].len(), 128 + "... (2 more bytes)".len());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            shorten_args(&args(&["auth", "u", "p"]))[1..],
            [b"(redacted)".to_vec(), b"(redacted)".to_vec()]
        );
        let v = shorten_args(&args(&["hello", "3", "AUTH", "u", "p", "SETNAME", "n"]));
        assert_eq!(v[3], b"(redacted)");
        assert_eq!(v[4], b"(redacted)");
        assert_eq!(v[6], b"n");
    }
}
