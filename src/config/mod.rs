//! Configuration: values for every directive in `table`, redis.conf and
//! command-line parsing, and the rules CONFIG GET/SET/REWRITE follow.

pub mod file;
pub mod table;

pub use table::{Directive, Kind, Special, D, TABLE};

use crate::util::glob::glob_match;

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Bool(bool),
    Int(i64),
    Str(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    vals: Vec<Val>,
    /// The config file the server was started with (for CONFIG REWRITE).
    pub file: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        let vals = TABLE
            .iter()
            .map(|d| parse_value(d, d.default).unwrap_or(Val::Str(d.default.to_string())))
            .collect();
        Config { vals, file: None }
    }
}

/// Parses `text` as a value of `d`'s type; the error is Redis's wording.
pub fn parse_value(d: &Directive, text: &str) -> Result<Val, String> {
    let v = match d.kind {
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "yes" => Val::Bool(true),
            "no" => Val::Bool(false),
            _ => return Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => {
            let v = crate::util::num::parse_i64(text.as_bytes())
                .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
            check_range(v, min, max)?
        }
        Kind::Mem(min, max) => {
            let v = parse_memory_unsigned(text).ok_or_else(|| "argument must be a memory value".to_string())?;
            if v > i64::MAX as u64 {
                return Err(range_error(min, max));
            }
            check_range(v as i64, min, max)?
        }
        Kind::Enum(opts) => {
            let l = text.to_ascii_lowercase();
            if opts.contains(&l.as_str()) {
                Val::Str(l)
            } else {
                return Err(format!("argument(s) must be one of the following: {}", opts.join(", ")));
            }
        }
        Kind::Save => Val::Str(parse_save(text)?),
        Kind::Bind => {
            let addrs: Vec<&str> = text.split_whitespace().collect();
            if addrs.is_empty() {
                return Err("Too many bind addresses specified.".into());
            }
            Val::Str(addrs.join(" "))
        }
        Kind::Custom(sp) => Val::Str(parse_special(sp, text)?),
        Kind::Str | Kind::Opaque => Val::Str(text.to_string()),
    };
    Ok(adjust(d, v))
}

/// Values Redis accepts but silently brings into the range it can use.
fn adjust(d: &Directive, v: Val) -> Val {
    match (d.name, v) {
        // The server cron runs between 1 and 500 times a second.
        ("hz", Val::Int(i)) => Val::Int(i.clamp(1, 500)),
        // The replication backlog is never smaller than 16k.
        ("repl-backlog-size", Val::Int(i)) => Val::Int(i.max(16 * 1024)),
        (_, v) => v,
    }
}

fn range_error(min: i64, max: i64) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

fn check_range(v: i64, min: i64, max: i64) -> Result<Val, String> {
    if v < min || v > max {
        Err(range_error(min, max))
    } else {
        Ok(Val::Int(v))
    }
}

/// Redis memory units: k=1000, kb=1024, m, mb, g, gb; case-insensitive.
/// No sign; the digits may be omitted (meaning 0), as in Redis. Overflow
/// saturates, so that it is reported as out of range.
fn parse_memory_unsigned(text: &str) -> Option<u64> {
    let t = text.to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n = num.bytes().fold(0u64, |acc, c| acc.saturating_mul(10).saturating_add((c - b'0') as u64));
    Some(n.saturating_mul(mul))
}

/// A memory value (see `parse_memory_unsigned`) that fits in an i64.
pub fn parse_memory(text: &str) -> Option<i64> {
    parse_memory_unsigned(text).and_then(|v| i64::try_from(v).ok())
}

/// Validates `save` rules and returns them normalised ("" = off).
fn parse_save(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if !parts.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return Err("Invalid save parameters".into());
        }
        let n: u64 = p.parse().map_err(|_| "Invalid save parameters".to_string())?;
        nums.push(n.to_string());
    }
    Ok(nums.join(" "))
}

/// Keyspace event classes in the order CONFIG GET prints them.
const EVENT_CLASSES: &str = "g$lshzxetdn";
/// The classes `A` stands for.
const EVENT_ALL: &str = "g$lshzxetd";

/// Validates and normalises the values of `Kind::Custom` directives.
pub fn parse_special(sp: Special, text: &str) -> Result<String, String> {
    match sp {
        Special::Events => {
            let mut set = std::collections::BTreeSet::new();
            for c in text.chars() {
                match c {
                    'A' => set.extend(EVENT_ALL.chars()),
                    c if EVENT_CLASSES.contains(c) || "KEm".contains(c) => {
                        set.insert(c);
                    }
                    _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
                }
            }
            let mut out = String::new();
            if EVENT_ALL.chars().all(|c| set.contains(&c)) {
                out.push('A');
            } else {
                out.extend(EVENT_CLASSES.chars().filter(|c| set.contains(c)));
            }
            out.extend("KEm".chars().filter(|c| set.contains(c)));
            Ok(out)
        }
        Special::MemOrPercent => {
            if let Some(p) = text.strip_suffix('%') {
                let v = crate::util::num::parse_i64(p.as_bytes())
                    .filter(|v| *v >= 0)
                    .ok_or_else(|| "argument must be a memory or percent value".to_string())?;
                if v > 100 {
                    return Err("percentage argument must be less or equal to 100".into());
                }
                return Ok(format!("{v}%"));
            }
            parse_memory(text)
                .map(|v| v.to_string())
                .ok_or_else(|| "argument must be a memory or percent value".into())
        }
        Special::OomValues => {
            let parts: Vec<&str> = text.split_whitespace().collect();
            if parts.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut vals = Vec::new();
            for p in parts {
                match crate::util::num::parse_i64(p.as_bytes()) {
                    Some(v) if (-2000..=2000).contains(&v) => vals.push(v.to_string()),
                    _ => return Err("Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into()),
                }
            }
            Ok(vals.join(" "))
        }
        Special::Percentiles => {
            let mut vals = Vec::new();
            for p in text.split_whitespace() {
                let v = crate::util::num::parse_f64(p.as_bytes())
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
                if !(0.0..=100.0).contains(&v) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                vals.push(format!("{v}"));
            }
            Ok(vals.join(" "))
        }
        Special::Hostname => {
            if text.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
                Ok(text.to_string())
            } else {
                Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
            }
        }
        Special::Cidrs => crate::net::allowlist::validate(text),
        Special::ProcTitle => {
            const VARS: &[&str] =
                &["title", "listen-addr", "server-mode", "port", "tls-port", "unixsocket", "config-file"];
            let bad = || "template format is invalid or contains unknown variables".to_string();
            if text.is_empty() {
                return Err(bad());
            }
            let mut rest = text;
            while let Some(i) = rest.find(['{', '}']) {
                if rest.as_bytes()[i] == b'}' {
                    return Err(bad());
                }
                let after = &rest[i + 1..];
                let end = after.find('}').ok_or_else(bad)?;
                if !VARS.contains(&&after[..end]) {
                    return Err(bad());
                }
                rest = &after[end + 1..];
            }
            Ok(text.to_string())
        }
    }
}

impl Config {
    pub fn get(&self, d: D) -> &Val {
        &self.vals[d as usize]
    }

    pub fn bool(&self, d: D) -> bool {
        matches!(self.vals[d as usize], Val::Bool(true))
    }

    pub fn int(&self, d: D) -> i64 {
        match self.vals[d as usize] {
            Val::Int(i) => i,
            _ => 0,
        }
    }

    pub fn str(&self, d: D) -> &str {
        match &self.vals[d as usize] {
            Val::Str(s) => s,
            _ => "",
        }
    }

    /// The `save` rules as (seconds, changes) pairs.
    pub fn save_rules(&self) -> Vec<(u64, u64)> {
        let v: Vec<u64> = self.str(D::SAVE).split_whitespace().filter_map(|x| x.parse().ok()).collect();
        v.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0], c[1])).collect()
    }

    /// The value as CONFIG GET prints it.
    pub fn display(&self, idx: usize) -> String {
        match &self.vals[idx] {
            Val::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Str(s) => s.clone(),
        }
    }

    pub fn set_index(&mut self, idx: usize, v: Val) {
        self.vals[idx] = v;
    }

    /// Sets a directive by name from text (used by file and command-line
    /// parsing, where immutable directives are allowed).
    pub fn set_startup(&mut self, name: &str, value: &str) -> Result<(), String> {
        let (idx, d) = table::find(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        let v = parse_value(d, value)?;
        self.vals[idx] = v;
        Ok(())
    }

    /// CONFIG GET: every (name, value) matching any of `patterns`, each name
    /// once (case-insensitively), aliases reported under the name asked for.
    /// A pattern without glob characters is reported as it was written
    /// (`CONFIG GET TIMEOUT` answers `TIMEOUT`), as Redis does.
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let add = |name: String, idx: usize, out: &mut Vec<(String, String)>| {
            if !out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                out.push((name, self.display(idx)));
            }
        };
        for p in patterns {
            let has_glob = p.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
            for (idx, d) in TABLE.iter().enumerate() {
                for name in std::iter::once(&d.name).chain(d.aliases.iter()) {
                    if has_glob {
                        if glob_match(p, name.as_bytes(), true) {
                            add(name.to_string(), idx, &mut out);
                        }
                    } else if p.eq_ignore_ascii_case(name.as_bytes()) {
                        add(String::from_utf8_lossy(p).into_owned(), idx, &mut out);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let c = Config::default();
        assert_eq!(c.int(D::PORT), 6379);
        assert_eq!(c.int(D::DATABASES), 16);
        assert_eq!(c.str(D::BIND), "127.0.0.1 -::1");
        assert_eq!(c.save_rules(), vec![(3600, 1), (300, 100), (60, 10000)]);
        assert_eq!(c.int(D::PROTO_MAX_BULK_LEN), 512 * 1024 * 1024);
        // Every default must be valid for its own type.
        for d in TABLE {
            assert!(parse_value(d, d.default).is_ok(), "{}", d.name);
        }
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("5MB"), Some(5 << 20));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory(""), Some(0));
        assert_eq!(parse_memory("99999999999999999999"), None);
    }

    #[test]
    fn keyspace_events_normalised() {
        let p = |t| parse_special(Special::Events, t);
        assert_eq!(p("KEA").unwrap(), "AKE");
        assert_eq!(p("Ex").unwrap(), "xE");
        assert_eq!(p("g$lshzxetd").unwrap(), "A");
        assert_eq!(p("Kgm").unwrap(), "gKm");
        assert!(p("abc").is_err());
    }
}
