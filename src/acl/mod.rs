//! ACL: users, their rules, the permission check every command goes through,
//! and the log of refused commands and failed authentications.
//!
//! A connection names its user (`Client::user`); permissions are looked up
//! at each command, so ACL SETUSER takes effect on live connections at once.

pub mod selector;
pub mod user;

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::commands::Command;
use crate::config::{Config, D};
pub use selector::{Denied, RuleError, Selector, PERM_READ, PERM_WRITE};
pub use user::User;

/// The answers of the per-request questions while no user changes.
#[derive(Clone, Copy)]
struct Fast {
    auth_required: bool,
    /// The default user may run anything on any key and channel.
    default_unrestricted: bool,
}

/// Refusals of the same kind within this long are counted in one log entry.
const LOG_GROUPING_MS: i64 = 60_000;

pub struct LogEntry {
    pub id: u64,
    pub count: u64,
    pub reason: &'static str,
    pub context: &'static str,
    pub object: Vec<u8>,
    pub username: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub client_info: String,
}

pub struct Acl {
    /// Private so that every change goes through `users_mut`, which
    /// forgets `fast`.
    users: BTreeMap<String, User>,
    /// What every request asks of the users, worked out once per change.
    fast: Cell<Option<Fast>>,
    /// Newest first.
    pub log: VecDeque<LogEntry>,
    next_log_id: u64,
}

/// The default user as Redis creates it, with requirepass as its password.
fn default_user(requirepass: &str) -> User {
    let mut u = User::new("default", true);
    for r in ["on", "nopass", "~*", "&*", "+@all"] {
        let _ = u.apply(r.as_bytes(), true);
    }
    if !requirepass.is_empty() {
        let _ = u.apply(format!(">{requirepass}").as_bytes(), true);
    }
    u
}

/// Why rules could not be applied to a user.
#[derive(Debug)]
pub enum SetError {
    /// A selector opened with '(' and never closed (Redis's full text).
    Unmatched(String),
    /// The rule at fault and why.
    Rule(Vec<u8>, RuleError),
}

impl SetError {
    /// The text of ACL SETUSER's error (after "ERR ").
    pub fn setuser_text(&self) -> String {
        match self {
            SetError::Unmatched(m) => m.clone(),
            SetError::Rule(op, e) => format!(
                "Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(op),
                e.text()
            ),
        }
    }

    /// The text used for ACL files and `user` lines.
    pub fn file_text(&self) -> String {
        match self {
            SetError::Unmatched(m) => m.clone(),
            SetError::Rule(op, e) => format!(
                "Error in applying operation '{}': {}",
                String::from_utf8_lossy(op),
                e.text()
            ),
        }
    }
}

impl Acl {
    pub fn new(cfg: &Config) -> Acl {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), default_user(cfg.str(D::REQUIREPASS)));
        Acl {
            users,
            fast: Cell::new(None),
            log: VecDeque::new(),
            next_log_id: 0,
        }
    }

    pub fn users(&self) -> &BTreeMap<String, User> {
        &self.users
    }

    pub fn users_mut(&mut self) -> &mut BTreeMap<String, User> {
        self.fast.set(None);
        &mut self.users
    }

    #[inline]
    fn fast(&self) -> Fast {
        match self.fast.get() {
            Some(f) => f,
            None => self.compute_fast(),
        }
    }

    fn compute_fast(&self) -> Fast {
        let d = self.default_user();
        let f = Fast {
            auth_required: d.is_none_or(|u| !u.nopass || !u.enabled),
            default_unrestricted: d.is_some_and(|u| u.root.allows_everything()),
        };
        self.fast.set(Some(f));
        f
    }

    pub fn default_user(&self) -> Option<&User> {
        self.users.get("default")
    }

    /// Connections must AUTH first (the default user has a password or is
    /// off).
    pub fn auth_required(&self) -> bool {
        self.fast().auth_required
    }

    /// requirepass changed: the default user's passwords follow it.
    pub fn set_requirepass(&mut self, pass: &str) {
        if let Some(u) = self.users_mut().get_mut("default") {
            let _ = u.apply(b"resetpass", true);
            if pass.is_empty() {
                let _ = u.apply(b"nopass", true);
            } else {
                let _ = u.apply(format!(">{pass}").as_bytes(), true);
            }
        }
    }

    /// Applies rules to a user (created if missing) all or nothing.
    pub fn set_user(
        &mut self,
        name: &str,
        rules: &[Vec<u8>],
        allchannels: bool,
    ) -> Result<(), SetError> {
        let merged = user::merge_selectors(rules).map_err(SetError::Unmatched)?;
        let mut u = self
            .users
            .get(name)
            .cloned()
            .unwrap_or_else(|| User::new(name, allchannels));
        for r in &merged {
            u.apply(r, allchannels)
                .map_err(|e| SetError::Rule(r.clone(), e))?;
        }
        self.users_mut().insert(name.to_string(), u);
        Ok(())
    }

    /// Checks a call for `user`: allowed when any selector allows it;
    /// otherwise the most telling refusal (channels over keys over the
    /// command; the later argument among equals).
    #[inline]
    pub fn check(&self, user: &str, cmd: &'static Command, args: &[Bytes]) -> Result<(), Denied> {
        // The common case (the default user of a server without ACL
        // rules) costs a comparison, not a user lookup and a selector walk.
        if user == "default" && self.fast().default_unrestricted {
            return Ok(());
        }
        self.check_rules(user, cmd, args)
    }

    fn check_rules(&self, user: &str, cmd: &'static Command, args: &[Bytes]) -> Result<(), Denied> {
        let Some(u) = self.users.get(user) else {
            return Err(Denied::Command);
        };
        let mut worst = match u.root.check(cmd, args) {
            Ok(()) => return Ok(()),
            Err(d) => d,
        };
        for s in &u.selectors {
            match s.check(cmd, args) {
                Ok(()) => return Ok(()),
                Err(d) => worst = worst.max(d),
            }
        }
        Err(worst)
    }

    /// Records a refusal in ACL LOG, merging it with a recent similar one.
    #[allow(clippy::too_many_arguments)]
    pub fn log_denial(
        &mut self,
        reason: &'static str,
        context: &'static str,
        object: &[u8],
        username: &str,
        client_info: String,
        now_ms: i64,
        max_len: usize,
    ) {
        let similar = self.log.iter().take(10).position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now_ms - e.created_ms < LOG_GROUPING_MS
        });
        if let Some(i) = similar {
            if let Some(mut e) = self.log.remove(i) {
                e.count += 1;
                e.updated_ms = now_ms;
                e.client_info = client_info;
                self.log.push_front(e);
            }
            return;
        }
        self.log.push_front(LogEntry {
            id: self.next_log_id,
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_string(),
            created_ms: now_ms,
            updated_ms: now_ms,
            client_info,
        });
        self.next_log_id += 1;
        self.log.truncate(max_len);
    }

    /// The text of ACL SAVE / an ACL file: one `user` line per user.
    pub fn file_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for u in self.users.values() {
            out.extend_from_slice(b"user ");
            out.extend_from_slice(u.name.as_bytes());
            out.push(b' ');
            out.extend_from_slice(&u.describe());
            out.push(b'\n');
        }
        out
    }

    /// Builds the users of `user` lines (redis.conf or an ACL file). Every
    /// line is checked; the errors name the lines at fault. A file without
    /// a default user keeps the current one (as Redis does).
    pub fn from_lines(
        &self,
        lines: &[(String, Vec<Vec<u8>>)],
        allchannels: bool,
        requirepass: &str,
    ) -> Result<Acl, Vec<String>> {
        let mut acl = Acl {
            users: BTreeMap::new(),
            fast: Cell::new(None),
            log: VecDeque::new(),
            next_log_id: self.next_log_id,
        };
        let mut errors = Vec::new();
        for (place, args) in lines {
            let place = place.as_str();
            let Some(name) = args.first() else {
                errors.push(format!(
                    "{place} should start with user keyword followed by the username"
                ));
                continue;
            };
            let name_s = String::from_utf8_lossy(name).into_owned();
            if !user::valid_name(name) {
                errors.push(format!(
                    "{place}: Usernames can't contain spaces or null characters"
                ));
                continue;
            }
            if acl.users.contains_key(&name_s) {
                errors.push(format!("{place}: Duplicate user '{name_s}' found"));
                continue;
            }
            acl.users_mut()
                .insert(name_s.clone(), User::new(&name_s, allchannels));
            if let Err(e) = acl.set_user(&name_s, &args[1..], allchannels) {
                errors.push(format!("{place}: {}", e.file_text()));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if !acl.users.contains_key("default") {
            let d = self
                .users
                .get("default")
                .cloned()
                .unwrap_or_else(|| default_user(requirepass));
            acl.users_mut().insert("default".into(), d);
        }
        acl.log = VecDeque::new();
        Ok(acl)
    }
}

/// Splits an ACL file into `user` lines (blank lines and comments are
/// skipped), each with its "path:line"; a line that is not a `user` line
/// gets no arguments, which `Acl::from_lines` reports.
pub fn parse_file(text: &[u8], path: &str) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut lines = Vec::new();
    for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
        let words: Vec<Vec<u8>> = raw
            .split(|c| c.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .map(|w| w.to_vec())
            .collect();
        if words.is_empty() || words[0].starts_with(b"#") {
            continue;
        }
        let place = format!("{path}:{}", i + 1);
        let args = if words[0] == b"user" {
            words[1..].to_vec()
        } else {
            Vec::new()
        };
        lines.push((place, args));
    }
    lines
}

/// Which permission the `i`-th key of a call needs (see `keyspecs`).
pub fn key_perms(cmd: &Command, i: usize, _n: usize, args: &[Bytes]) -> u8 {
    let mut p = 0;
    for f in crate::commands::keyspecs::key_flags(cmd, i, args) {
        match *f {
            "access" => p |= PERM_READ,
            "insert" | "update" | "delete" => p |= PERM_WRITE,
            _ => {}
        }
    }
    p
}

/// Shard channels are declared as keys but are checked as channels.
pub fn is_channel_spec(cmd: &Command) -> bool {
    crate::commands::keyspecs::key_flags(cmd, 0, &[]).contains(&"not_key")
}

/// CONFIG REWRITE: the `user` lines of a config file replaced by
/// `users` (ACL SAVE's text), where the first one was or else at the end.
pub fn rewrite_user_lines(text: &str, users: &[u8]) -> String {
    let users = String::from_utf8_lossy(users);
    let mut out = String::new();
    let mut placed = false;
    for line in text.lines() {
        if line.split_whitespace().next() == Some("user") {
            if !placed {
                out.push_str(&users);
                placed = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !placed {
        if !out.lines().any(|l| l == "# Generated by CONFIG REWRITE") {
            out.push_str("# Generated by CONFIG REWRITE\n");
        }
        out.push_str(&users);
    }
    out
}

/// Redis's summary of ACL file errors.
pub fn file_errors_text(errors: &[String]) -> String {
    let mut s = String::new();
    for e in errors {
        s.push_str(e);
        s.push_str(". ");
    }
    s.push_str(
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
    );
    s
}
