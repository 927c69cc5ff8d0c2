//! Configuration: values for every directive in `table`, redis.conf and
//! command-line parsing, and the rules CONFIG GET/SET/REWRITE follow.

pub mod file;
pub mod table;

pub use table::{Directive, Kind, D, TABLE};

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
    match d.kind {
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "yes" => Ok(Val::Bool(true)),
            "no" => Ok(Val::Bool(false)),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => {
            let v: i64 = text
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            check_range(v, min, max)
        }
        Kind::Mem(min, max) => {
            let v = parse_memory(text).ok_or_else(|| "argument must be a memory value".to_string())?;
            check_range(v, min, max)
        }
        Kind::Enum(opts) => {
            let l = text.to_ascii_lowercase();
            if opts.contains(&l.as_str()) {
                Ok(Val::Str(l))
            } else {
                Err(format!("argument(s) must be one of the following: {}", opts.join(", ")))
            }
        }
        Kind::Save => parse_save(text).map(Val::Str),
        Kind::Bind => {
            let addrs: Vec<&str> = text.split_whitespace().collect();
            if addrs.is_empty() {
                return Err("Too many bind addresses specified.".into());
            }
            Ok(Val::Str(addrs.join(" ")))
        }
        Kind::Str | Kind::Opaque => Ok(Val::Str(text.to_string())),
    }
}

fn check_range(v: i64, min: i64, max: i64) -> Result<Val, String> {
    if v < min || v > max {
        Err(format!("argument must be between {min} and {max} inclusive"))
    } else {
        Ok(Val::Int(v))
    }
}

/// Redis memory units: k=1000, kb=1024, m, mb, g, gb; case-insensitive.
pub fn parse_memory(text: &str) -> Option<i64> {
    let t = text.to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '-').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: i64 = num.parse().ok()?;
    n.checked_mul(mul)
}

/// Validates `save` rules and returns them normalised ("" = off).
fn parse_save(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() % 2 != 0 {
        return Err("Invalid save parameters".into());
    }
    for p in &parts {
        if p.parse::<u64>().is_err() {
            return Err("Invalid save parameters".into());
        }
    }
    Ok(parts.join(" "))
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
    /// once, aliases reported under the name asked for.
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::new();
        let add = |name: &'static str, idx: usize, out: &mut Vec<(&'static str, String)>| {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, self.display(idx)));
            }
        };
        for p in patterns {
            let has_glob = p.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
            for (idx, d) in TABLE.iter().enumerate() {
                for name in std::iter::once(&d.name).chain(d.aliases.iter()) {
                    let hit = if has_glob {
                        glob_match(p, name.as_bytes(), true)
                    } else {
                        p.eq_ignore_ascii_case(name.as_bytes())
                    };
                    if hit {
                        add(name, idx, &mut out);
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
    }
}
