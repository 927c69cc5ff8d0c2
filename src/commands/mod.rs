//! The command table: the one place that knows each command's name, arity,
//! flags, key positions and ACL categories. Dispatch, COMMAND, ACL checks,
//! MULTI queueing and INFO commandstats all read it.
//!
//! Each family file exports a `COMMANDS` slice; adding a command means one
//! entry there and one handler function.

pub mod bitmaps;
pub mod client_tracking;
pub mod acl;
pub mod connection;
pub mod dump;
pub mod generic;
pub mod geo;
pub mod keyspecs;
pub mod hashes;
pub mod hyperloglog;
pub mod introspect;
pub mod lists;
pub mod migrate;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod standalone;
pub mod streams;
pub mod strings;
pub mod tx;
pub mod waitaof;
pub mod zsets;

use std::sync::OnceLock;

use bytes::Bytes;

use crate::errors::CmdResult;
use crate::server::Ctx;

pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

// Command flags (Redis's names, as COMMAND INFO prints them).
pub const WRITE: u32 = 1 << 0;
pub const READONLY: u32 = 1 << 1;
pub const DENYOOM: u32 = 1 << 2;
pub const ADMIN: u32 = 1 << 3;
pub const PUBSUB: u32 = 1 << 4;
pub const NOSCRIPT: u32 = 1 << 5;
pub const BLOCKING: u32 = 1 << 6;
pub const LOADING: u32 = 1 << 7;
pub const STALE: u32 = 1 << 8;
pub const SKIP_MONITOR: u32 = 1 << 9;
pub const SKIP_SLOWLOG: u32 = 1 << 10;
pub const FAST: u32 = 1 << 11;
pub const NO_AUTH: u32 = 1 << 12;
pub const MAY_REPLICATE: u32 = 1 << 13;
pub const NO_MULTI: u32 = 1 << 14;
pub const ALLOW_BUSY: u32 = 1 << 15;
pub const NO_MANDATORY_KEYS: u32 = 1 << 16;
pub const MOVABLE_KEYS: u32 = 1 << 17;
pub const ASKING: u32 = 1 << 18;
pub const NO_ASYNC_LOADING: u32 = 1 << 19;

const FLAG_NAMES: &[(u32, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (PUBSUB, "pubsub"),
    (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (SKIP_MONITOR, "skip_monitor"),
    (SKIP_SLOWLOG, "skip_slowlog"),
    (ASKING, "asking"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (MAY_REPLICATE, "may_replicate"),
    (NO_MANDATORY_KEYS, "no_mandatory_keys"),
    (NO_ASYNC_LOADING, "no_async_loading"),
    (NO_MULTI, "no_multi"),
    (ALLOW_BUSY, "allow_busy"),
    (MOVABLE_KEYS, "movablekeys"),
];

// ACL categories a command belongs to by its data or purpose. The flag-derived
// ones (@write, @read, @admin, @dangerous, @fast, @slow, @pubsub, @blocking)
// are computed from flags, as Redis does, so they cannot disagree.
pub const C_KEYSPACE: u64 = 1 << 0;
pub const C_READ: u64 = 1 << 1;
pub const C_WRITE: u64 = 1 << 2;
pub const C_SET: u64 = 1 << 3;
pub const C_SORTEDSET: u64 = 1 << 4;
pub const C_LIST: u64 = 1 << 5;
pub const C_HASH: u64 = 1 << 6;
pub const C_STRING: u64 = 1 << 7;
pub const C_BITMAP: u64 = 1 << 8;
pub const C_HYPERLOGLOG: u64 = 1 << 9;
pub const C_GEO: u64 = 1 << 10;
pub const C_STREAM: u64 = 1 << 11;
pub const C_PUBSUB: u64 = 1 << 12;
pub const C_ADMIN: u64 = 1 << 13;
pub const C_FAST: u64 = 1 << 14;
pub const C_SLOW: u64 = 1 << 15;
pub const C_BLOCKING: u64 = 1 << 16;
pub const C_DANGEROUS: u64 = 1 << 17;
pub const C_CONNECTION: u64 = 1 << 18;
pub const C_TRANSACTION: u64 = 1 << 19;
pub const C_SCRIPTING: u64 = 1 << 20;

pub const CATEGORIES: &[(u64, &str)] = &[
    (C_KEYSPACE, "keyspace"),
    (C_READ, "read"),
    (C_WRITE, "write"),
    (C_SET, "set"),
    (C_SORTEDSET, "sortedset"),
    (C_LIST, "list"),
    (C_HASH, "hash"),
    (C_STRING, "string"),
    (C_BITMAP, "bitmap"),
    (C_HYPERLOGLOG, "hyperloglog"),
    (C_GEO, "geo"),
    (C_STREAM, "stream"),
    (C_PUBSUB, "pubsub"),
    (C_ADMIN, "admin"),
    (C_FAST, "fast"),
    (C_SLOW, "slow"),
    (C_BLOCKING, "blocking"),
    (C_DANGEROUS, "dangerous"),
    (C_CONNECTION, "connection"),
    (C_TRANSACTION, "transaction"),
    (C_SCRIPTING, "scripting"),
];

/// Where a command's keys are: `first`, `last` (negative counts from the
/// end), `step`; all zero for keyless commands.
#[derive(Debug, Clone, Copy)]
pub struct Keys {
    pub first: i32,
    pub last: i32,
    pub step: i32,
}

pub const NO_KEYS: Keys = Keys {
    first: 0,
    last: 0,
    step: 0,
};
pub const KEY1: Keys = Keys {
    first: 1,
    last: 1,
    step: 1,
};

/// Keys whose positions depend on the arguments (Redis's "keynum" and
/// "keyword" key specs), found in addition to `Command::keys`.
#[derive(Debug, Clone, Copy)]
pub enum KeyFind {
    None,
    /// A count at index `at`, then that many keys.
    Numkeys { at: usize },
    /// The keys after `word` (searched from index 2): all of the rest, or
    /// only the first half of the rest with `half` (XREAD ... STREAMS).
    AfterWord { word: &'static str, half: bool },
    /// The one key after `word` (SORT ... STORE dst).
    OneAfterWord { word: &'static str },
    /// With an empty fixed key and `word` present, the keys after `word`
    /// instead of it (MIGRATE ... "" ... KEYS k1 k2).
    InsteadAfterWord { word: &'static str },
}

pub struct Command {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    pub find: KeyFind,
    pub categories: u64,
    pub handler: Handler,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub subs: &'static [Command],
}

impl Command {
    /// The same entry with argument-dependent keys (a table builder).
    pub const fn find_keys(self, find: KeyFind) -> Command {
        Command { find, ..self }
    }

    /// Positions of every key in `args`, fixed and argument-dependent; None
    /// when the arguments do not say where the keys are (a bad numkeys).
    /// COMMAND GETKEYS, ACL and WATCH all use this.
    pub fn try_keys(&self, args: &[Bytes]) -> Option<Vec<usize>> {
        let argc = args.len();
        let mut v = self.key_positions(argc);
        match self.find {
            KeyFind::None => {}
            KeyFind::Numkeys { at } => {
                let n = args.get(at).and_then(|a| crate::util::num::parse_i64(a))?;
                if n < 0 || (n as usize) > argc - at - 1 {
                    return None;
                }
                v.extend(at + 1..at + 1 + n as usize);
            }
            KeyFind::AfterWord { word, half } => {
                let w = (2..argc).find(|&i| is(&args[i], word))?;
                let rest = argc - w - 1;
                if half && rest % 2 != 0 {
                    return None;
                }
                v.extend(w + 1..w + 1 + if half { rest / 2 } else { rest });
            }
            KeyFind::InsteadAfterWord { word } => {
                let fixed = self.keys.first as usize;
                if args.get(fixed).is_some_and(|k| k.is_empty()) {
                    if let Some(w) = (fixed + 1..argc).find(|&i| is(&args[i], word)) {
                        v = (w + 1..argc).collect();
                    }
                }
            }
            KeyFind::OneAfterWord { word } => {
                if let Some(w) = (2..argc.saturating_sub(1)).find(|&i| is(&args[i], word)) {
                    v.push(w + 1);
                }
            }
        }
        Some(v)
    }

    pub fn keys_in(&self, args: &[Bytes]) -> Vec<usize> {
        self.try_keys(args).unwrap_or_default()
    }

    /// ACL categories, explicit and derived from flags.
    pub fn acl_categories(&self) -> u64 {
        let mut c = self.categories;
        if self.flags & WRITE != 0 {
            c |= C_WRITE;
        }
        if self.flags & READONLY != 0 && c & C_SCRIPTING == 0 {
            c |= C_READ;
        }
        if self.flags & ADMIN != 0 {
            c |= C_ADMIN | C_DANGEROUS;
        }
        if self.flags & PUBSUB != 0 {
            c |= C_PUBSUB;
        }
        if self.flags & FAST != 0 {
            c |= C_FAST;
        }
        if self.flags & BLOCKING != 0 {
            c |= C_BLOCKING;
        }
        if c & C_FAST == 0 {
            c |= C_SLOW;
        }
        c
    }

    pub fn flag_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        FLAG_NAMES
            .iter()
            .filter(move |(f, _)| self.flags & f != 0)
            .map(|(_, n)| *n)
    }

    /// Positions of the key arguments in `args` (args[0] is the name).
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let k = self.keys;
        if k.first <= 0 || k.step <= 0 {
            return Vec::new();
        }
        let last = if k.last < 0 {
            argc as i32 + k.last
        } else {
            k.last
        };
        let mut v = Vec::new();
        let mut i = k.first;
        while i <= last && (i as usize) < argc {
            v.push(i as usize);
            i += k.step;
        }
        v
    }
}

/// Shorthand for table entries.
#[allow(clippy::too_many_arguments)]
pub const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: Keys,
    categories: u64,
    handler: Handler,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
) -> Command {
    Command {
        name,
        arity,
        flags,
        keys,
        find: KeyFind::None,
        categories,
        handler,
        group,
        since,
        summary,
        subs: &[],
    }
}

/// A container command (CONFIG, CLIENT, ...) whose real work is done by
/// subcommands named `container|sub`.
pub const fn container(
    name: &'static str,
    categories: u64,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    subs: &'static [Command],
) -> Command {
    Command {
        name,
        arity: -2,
        flags: 0,
        keys: NO_KEYS,
        find: KeyFind::None,
        categories,
        handler: |_, _| Ok(()),
        group,
        since,
        summary,
        subs,
    }
}

pub struct Table {
    pub commands: Vec<&'static Command>,
    /// Open addressing over `commands` (index, or EMPTY), by `name_hash`:
    /// the lookup every request makes, without lowercasing the name first.
    slots: Vec<u16>,
}

const EMPTY: u16 = u16::MAX;

/// A hash of a command name that ignores ASCII case (`| 0x20` lowercases
/// letters; other bytes it folds together only collide, and the lookup
/// compares names exactly).
fn name_hash(name: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = name.len() as u64;
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ (u64::from_le_bytes(w) | 0x2020_2020_2020_2020)).wrapping_mul(K);
    }
    // The last 1 to 7 bytes as one word, without a variable-length copy.
    let r = chunks.remainder();
    let w = match r.len() {
        0 => return h ^ (h >> 29),
        1..=3 => r[0] as u64 | (r[r.len() / 2] as u64) << 8 | (r[r.len() - 1] as u64) << 16,
        _ => {
            let lo = u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as u64;
            let e = r.len() - 4;
            let hi = u32::from_le_bytes([r[e], r[e + 1], r[e + 2], r[e + 3]]) as u64;
            lo | hi << 32
        }
    };
    h = (h ^ (w | 0x2020_2020_2020_2020)).wrapping_mul(K);
    h ^ (h >> 29)
}

impl Table {
    fn new(mut commands: Vec<&'static Command>) -> Table {
        commands.sort_by_key(|c| c.name);
        // At most a quarter full: probes stay short.
        let size = (commands.len() * 4).next_power_of_two();
        let mut slots = vec![EMPTY; size];
        for (i, c) in commands.iter().enumerate() {
            let mut s = name_hash(c.name.as_bytes()) as usize & (size - 1);
            while slots[s] != EMPTY {
                s = (s + 1) & (size - 1);
            }
            slots[s] = i as u16;
        }
        Table { commands, slots }
    }

    /// The command named `name`, in any case.
    pub fn find(&self, name: &[u8]) -> Option<&'static Command> {
        let mask = self.slots.len() - 1;
        let mut s = name_hash(name) as usize & mask;
        loop {
            let i = self.slots[s];
            if i == EMPTY {
                return None;
            }
            let c = self.commands[i as usize];
            if c.name.len() == name.len() && c.name.as_bytes().eq_ignore_ascii_case(name) {
                return Some(c);
            }
            s = (s + 1) & mask;
        }
    }

    pub fn get(&self, lower_name: &str) -> Option<&'static Command> {
        self.find(lower_name.as_bytes())
    }
}

pub fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let families: &[&'static [Command]] = &[
            strings::COMMANDS,
            bitmaps::COMMANDS,
            sort::COMMANDS,
            generic::COMMANDS,
            dump::COMMANDS,
            connection::COMMANDS,
            server::COMMANDS,
            lists::COMMANDS,
            hashes::COMMANDS,
            sets::COMMANDS,
            zsets::COMMANDS,
            tx::COMMANDS,
            pubsub::COMMANDS,
            scripting::COMMANDS,
            acl::COMMANDS,
            hyperloglog::COMMANDS,
            introspect::COMMANDS,
            geo::COMMANDS,
            replication::COMMANDS,
            crate::repl::replica::COMMANDS,
            streams::COMMANDS,
            standalone::COMMANDS,
            waitaof::COMMANDS,
            migrate::COMMANDS,
        ];
        Table::new(families.iter().flat_map(|f| f.iter()).collect())
    })
}

/// Finds a subcommand (case-insensitively).
pub fn find_sub(container: &'static Command, name: &[u8]) -> Option<&'static Command> {
    container.subs.iter().find(|s| {
        let short = s.name.rsplit('|').next().unwrap_or(s.name);
        short.as_bytes().eq_ignore_ascii_case(name)
    })
}

// Helpers shared by handlers.

/// Case-insensitive option comparison.
pub fn is(arg: &[u8], opt: &str) -> bool {
    arg.eq_ignore_ascii_case(opt.as_bytes())
}

pub fn int_arg(b: &[u8]) -> Result<i64, crate::errors::Error> {
    crate::util::num::parse_i64(b).ok_or(crate::errors::Error::NotInteger)
}

/// The reply of `<COMMAND> HELP`, in Redis's layout.
pub fn help_reply(ctx: &mut Ctx, name: &str, lines: &[&str]) {
    let out = &mut *ctx.out;
    out.array(lines.len() + 3);
    out.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Print this help.");
}

/// The typed view of a looked-up key: None if it is missing, WRONGTYPE if it
/// holds another type. `as_type` is one of `Value::as_*_mut`.
pub fn typed<'a, T: ?Sized>(
    entry: Option<&'a mut crate::db::Entry>,
    as_type: impl FnOnce(&'a mut crate::db::Value) -> Option<&'a mut T>,
) -> Result<Option<&'a mut T>, crate::errors::Error> {
    match entry {
        None => Ok(None),
        Some(e) => as_type(&mut e.val).map(Some).ok_or(crate::errors::Error::WrongType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_in_any_case() {
        let t = table();
        for c in &t.commands {
            let found = t.find(c.name.as_bytes()).unwrap();
            assert!(std::ptr::eq(found, *c), "{}", c.name);
            let upper = c.name.to_ascii_uppercase();
            let found = t.find(upper.as_bytes()).unwrap();
            assert!(std::ptr::eq(found, *c), "{upper}");
        }
        let names: std::collections::HashSet<_> = t.commands.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), t.commands.len(), "a name appears twice");
        let long = [b'x'; 40];
        let bad: [&[u8]; 7] = [b"", b"ge", b"gett", b"g\xc3\xa9t", b"GET\0", b"get_", &long];
        for bad in bad {
            assert!(t.find(bad).is_none(), "{bad:?}");
        }
        // '_' and DEL fold to the same hash byte; only the exact name matches.
        assert!(t.find(b"sort_ro").is_some());
        assert!(t.find(b"sort\x7fro").is_none());
    }
}
