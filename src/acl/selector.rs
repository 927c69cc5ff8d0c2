//! One ACL selector: the commands, key patterns and channel patterns it
//! allows, how rules such as `+get`, `%R~k*` or `&news.*` change it, and the
//! permission check for one command call.
//!
//! Commands are a bitmap over every command and subcommand of the table
//! (`registry`). The rules that built it are also kept as text, in the order
//! given, with a repeated rule replacing its earlier occurrence: that text is
//! what ACL LIST and ACL GETUSER print after `+@all` or `-@all`, as Redis 7.2
//! does.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::commands::{self, Command};
use crate::util::glob::glob_match;

pub const PERM_READ: u8 = 1;
pub const PERM_WRITE: u8 = 2;
pub const PERM_ALL: u8 = PERM_READ | PERM_WRITE;

/// Every command and subcommand with a dense id, for the bitmaps.
pub struct Registry {
    pub all: Vec<&'static Command>,
    /// By address: the ids are looked up on every call (INFO commandstats).
    ids: hashbrown::HashMap<usize, usize>,
}

pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let mut all = Vec::new();
        for c in &commands::table().commands {
            all.push(*c);
            all.extend(c.subs.iter());
        }
        let ids = all
            .iter()
            .enumerate()
            .map(|(i, c)| (*c as *const Command as usize, i))
            .collect();
        Registry { all, ids }
    })
}

impl Registry {
    pub fn id(&self, c: &'static Command) -> usize {
        self.ids
            .get(&(c as *const Command as usize))
            .copied()
            .unwrap_or(0)
    }
}

/// Why a rule was refused (the text after "Error in ACL SETUSER modifier").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
        }
    }
}

/// What a permission check refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    /// The argument index of the key.
    Key(usize),
    /// The argument index of the channel.
    Channel(usize),
}

#[derive(Clone, Default, Debug)]
pub struct Selector {
    allowed: Vec<bool>,
    /// Set only by +@all: commands added later are allowed too.
    pub future: bool,
    /// `+cmd|arg` for commands without subcommands: allowed first arguments.
    first_args: HashMap<usize, Vec<Vec<u8>>>,
    /// The command rules as given (without the leading +@all/-@all).
    rules: Vec<u8>,
    pub keys: Vec<(u8, Vec<u8>)>,
    pub allkeys: bool,
    pub channels: Vec<Vec<u8>>,
    pub allchannels: bool,
}

impl Selector {
    pub fn new(allchannels: bool) -> Selector {
        Selector {
            allowed: vec![false; registry().all.len()],
            allchannels,
            ..Default::default()
        }
    }

    fn set_bit(&mut self, c: &'static Command, on: bool) {
        let id = registry().id(c);
        if let Some(b) = self.allowed.get_mut(id) {
            *b = on;
        }
        self.first_args.remove(&id);
        for s in c.subs {
            self.set_bit(s, on);
        }
    }

    fn bit(&self, c: &'static Command) -> bool {
        self.allowed.get(registry().id(c)).copied().unwrap_or(false)
    }

    /// Records `rule` (without its sign) in the rules text, replacing an
    /// earlier rule for the same thing.
    fn note_rule(&mut self, rule: &[u8], allow: bool) {
        let rule = rule.to_ascii_lowercase();
        let mut kept: Vec<&[u8]> = Vec::new();
        for t in self.rules.split(|&c| c == b' ').filter(|t| !t.is_empty()) {
            if t.len() > 1 && t[1..] == rule[..] {
                continue;
            }
            kept.push(t);
        }
        let mut s = kept.join(&b' ');
        if !s.is_empty() {
            s.push(b' ');
        }
        s.push(if allow { b'+' } else { b'-' });
        s.extend_from_slice(&rule);
        self.rules = s;
    }

    fn all_commands(&mut self, on: bool) {
        self.allowed.iter_mut().for_each(|b| *b = on);
        self.future = on;
        self.first_args.clear();
        self.rules.clear();
    }

    /// Applies one selector rule (keys, channels, commands).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match &lower[..] {
            b"allkeys" => {
                self.allkeys = true;
                self.keys.clear();
                return Ok(());
            }
            b"resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
                return Ok(());
            }
            b"allchannels" => {
                self.allchannels = true;
                self.channels.clear();
                return Ok(());
            }
            b"resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
                return Ok(());
            }
            b"allcommands" => {
                self.all_commands(true);
                return Ok(());
            }
            b"nocommands" => {
                self.all_commands(false);
                return Ok(());
            }
            _ => {}
        }
        match op.first() {
            Some(b'~') => self.add_key(PERM_ALL, &op[1..]),
            Some(b'%') => {
                let tilde = op
                    .iter()
                    .position(|&c| c == b'~')
                    .ok_or(RuleError::Syntax)?;
                let mut perm = 0;
                for &c in &op[1..tilde] {
                    perm |= match c.to_ascii_uppercase() {
                        b'R' => PERM_READ,
                        b'W' => PERM_WRITE,
                        _ => return Err(RuleError::Syntax),
                    };
                }
                if perm == 0 {
                    return Err(RuleError::Syntax);
                }
                self.add_key(perm, &op[tilde + 1..])
            }
            Some(b'&') => {
                if self.allchannels {
                    return Err(RuleError::ChannelAfterAll);
                }
                let p = &op[1..];
                if has_space(p) {
                    return Err(RuleError::Syntax);
                }
                if p == b"*" {
                    self.allchannels = true;
                    self.channels.clear();
                } else if !self.channels.iter().any(|c| c == p) {
                    self.channels.push(p.to_vec());
                }
                Ok(())
            }
            Some(&sign @ (b'+' | b'-')) => self.command_rule(sign == b'+', &op[1..]),
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key(&mut self, perm: u8, pat: &[u8]) -> Result<(), RuleError> {
        if has_space(pat) {
            return Err(RuleError::Syntax);
        }
        if self.allkeys {
            return Err(RuleError::KeyAfterAll);
        }
        if pat == b"*" && perm == PERM_ALL {
            self.allkeys = true;
            self.keys.clear();
            return Ok(());
        }
        match self.keys.iter_mut().find(|(_, p)| p == pat) {
            Some(k) => k.0 |= perm,
            None => self.keys.push((perm, pat.to_vec())),
        }
        Ok(())
    }

    fn command_rule(&mut self, allow: bool, name: &[u8]) -> Result<(), RuleError> {
        if let Some(cat) = name.strip_prefix(b"@") {
            let cat = std::str::from_utf8(cat).map_err(|_| RuleError::UnknownCommand)?;
            let cat = cat.to_ascii_lowercase();
            if cat == "all" {
                self.all_commands(allow);
                return Ok(());
            }
            let bit = commands::CATEGORIES
                .iter()
                .find(|(_, n)| *n == cat)
                .map(|(b, _)| *b)
                .ok_or(RuleError::UnknownCommand)?;
            for c in &registry().all {
                if c.subs.is_empty() && c.acl_categories() & bit != 0 {
                    self.set_bit(c, allow);
                }
            }
            self.note_rule(name, allow);
            return Ok(());
        }
        if known_elsewhere(name) {
            self.note_rule(name, allow);
            return Ok(());
        }
        let mut parts = name.splitn(2, |&c| c == b'|');
        let base = parts.next().unwrap_or_default();
        let c = lookup(base).ok_or(RuleError::UnknownCommand)?;
        match parts.next() {
            None => self.set_bit(c, allow),
            Some(sub) => {
                if sub.is_empty() || sub.contains(&b'|') {
                    return Err(RuleError::UnknownCommand);
                }
                if !c.subs.is_empty() {
                    let s = commands::find_sub(c, sub).ok_or(RuleError::UnknownCommand)?;
                    self.set_bit(s, allow);
                } else {
                    // A first argument of a command without subcommands:
                    // it can be allowed, not taken away.
                    if !allow {
                        return Err(RuleError::UnknownCommand);
                    }
                    if !self.bit(c) {
                        let id = registry().id(c);
                        let v = self.first_args.entry(id).or_default();
                        if !v.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                            v.push(sub.to_vec());
                        }
                    }
                }
            }
        }
        self.note_rule(name, allow);
        Ok(())
    }

    /// The command part as ACL LIST prints it.
    pub fn describe_commands(&self) -> Vec<u8> {
        let mut s = if self.future {
            b"+@all".to_vec()
        } else {
            b"-@all".to_vec()
        };
        if !self.rules.is_empty() {
            s.push(b' ');
            s.extend_from_slice(&self.rules);
        }
        s
    }

    /// Key patterns as ACL GETUSER prints them.
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.allkeys {
            return b"~*".to_vec();
        }
        let mut parts = Vec::new();
        for (perm, p) in &self.keys {
            let mut s = match *perm {
                PERM_READ => b"%R~".to_vec(),
                PERM_WRITE => b"%W~".to_vec(),
                _ => b"~".to_vec(),
            };
            s.extend_from_slice(p);
            parts.push(s);
        }
        parts.join(&b' ')
    }

    /// Channel patterns as ACL GETUSER prints them.
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.allchannels {
            return b"&*".to_vec();
        }
        let parts: Vec<Vec<u8>> = self
            .channels
            .iter()
            .map(|c| [&b"&"[..], c].concat())
            .collect();
        parts.join(&b' ')
    }

    /// The whole selector as ACL LIST prints it.
    pub fn describe(&self) -> Vec<u8> {
        let mut s = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            s.extend_from_slice(&keys);
            s.push(b' ');
        }
        if self.allchannels {
            s.extend_from_slice(b"&* ");
        } else {
            s.extend_from_slice(b"resetchannels ");
            let ch = self.describe_channels();
            if !ch.is_empty() {
                s.extend_from_slice(&ch);
                s.push(b' ');
            }
        }
        s.extend_from_slice(&self.describe_commands());
        s
    }

    pub fn may_run(&self, cmd: &'static Command, args: &[Bytes]) -> bool {
        // +@all with nothing taken away: no lookup on the hot path.
        let everything = self.future && self.rules.is_empty();
        if everything || cmd.flags & commands::NO_AUTH != 0 || self.bit(cmd) {
            return true;
        }
        // First-argument rules name the argument after the command.
        let first = if cmd.name.contains('|') {
            args.get(2)
        } else {
            args.get(1)
        };
        match (self.first_args.get(&registry().id(cmd)), first) {
            (Some(v), Some(a)) => v.iter().any(|x| x.eq_ignore_ascii_case(a)),
            _ => false,
        }
    }

    pub fn key_allowed(&self, key: &[u8], need: u8) -> bool {
        self.allkeys
            || self
                .keys
                .iter()
                .any(|(perm, p)| perm & need == need && glob_match(p, key, false))
    }

    /// A channel (or, for PSUBSCRIBE, a pattern, which must be allowed
    /// literally).
    pub fn channel_allowed(&self, ch: &[u8], literal: bool) -> bool {
        self.allchannels
            || self.channels.iter().any(|p| {
                if literal {
                    p == ch
                } else {
                    glob_match(p, ch, false)
                }
            })
    }

    /// Every command (also those added later), key and channel: what
    /// `check` allows without looking at the call.
    pub fn allows_everything(&self) -> bool {
        self.future && self.rules.is_empty() && self.allkeys && self.allchannels
    }

    /// Checks one call: the command, then its keys, then its channels.
    pub fn check(&self, cmd: &'static Command, args: &[Bytes]) -> Result<(), Denied> {
        if !self.may_run(cmd, args) {
            return Err(Denied::Command);
        }
        if !self.allkeys && !super::is_channel_spec(cmd) {
            let keys = cmd.keys_in(args);
            let n = keys.len();
            for (i, &pos) in keys.iter().enumerate() {
                let need = super::key_perms(cmd, i, n, args);
                if !self.key_allowed(&args[pos], need) {
                    return Err(Denied::Key(pos));
                }
            }
        }
        if !self.allchannels {
            if let Some((positions, literal)) = channel_args(cmd, args.len()) {
                for pos in positions {
                    if !self.channel_allowed(&args[pos], literal) {
                        return Err(Denied::Channel(pos));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let n = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
    commands::table().get(&n)
}

/// The channel arguments of Pub/Sub commands, and whether they are patterns
/// compared literally (PSUBSCRIBE).
pub fn channel_args(cmd: &Command, argc: usize) -> Option<(std::ops::Range<usize>, bool)> {
    match cmd.name {
        "publish" | "spublish" => Some((1..2.min(argc), false)),
        "subscribe" | "ssubscribe" => Some((1..argc, false)),
        "psubscribe" => Some((1..argc, true)),
        _ => None,
    }
}

/// Patterns and names may not contain spaces or NULs (they would not
/// survive ACL LIST and ACL SAVE).
pub fn has_space(b: &[u8]) -> bool {
    b.iter().any(|&c| c.is_ascii_whitespace() || c == 0)
}

/// Every command and subcommand of Redis 7.2, so that rules naming one that
/// Redust does not implement are accepted (and printed back) as Redis
/// accepts them, instead of failing a redis.conf that works with Redis.
const REDIS_COMMANDS: &str = include_str!("redis_commands.txt");

/// `name` (`cmd` or `cmd|sub`) is a Redis command Redust does not have.
fn known_elsewhere(name: &[u8]) -> bool {
    let Ok(n) = std::str::from_utf8(name) else {
        return false;
    };
    let n = n.to_ascii_lowercase();
    let (base, sub) = match n.split_once('|') {
        Some((b, s)) => (b, Some(s)),
        None => (n.as_str(), None),
    };
    let ours = lookup(base.as_bytes());
    let listed = |x: &str| REDIS_COMMANDS.lines().any(|l| l == x);
    match (ours, sub) {
        (None, None) => listed(base),
        (None, Some(_)) => listed(&n),
        (Some(c), Some(s)) => {
            !c.subs.is_empty() && commands::find_sub(c, s.as_bytes()).is_none() && listed(&n)
        }
        (Some(_), None) => false,
    }
}
