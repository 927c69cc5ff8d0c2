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
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod tx;
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
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (MAY_REPLICATE, "may_replicate"),
    (NO_MANDATORY_KEYS, "no_mandatory_keys"),
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
    by_name: hashbrown::HashMap<&'static str, &'static Command>,
}

impl Table {
    pub fn get(&self, lower_name: &str) -> Option<&'static Command> {
        self.by_name.get(lower_name).copied()
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
        ];
        let mut commands = Vec::new();
        let mut by_name = hashbrown::HashMap::new();
        for fam in families {
            for c in fam.iter() {
                commands.push(c);
                by_name.insert(c.name, c);
            }
        }
        commands.sort_by_key(|c| c.name);
        Table { commands, by_name }
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
