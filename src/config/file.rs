//! redis.conf: reading (with `include`), the command line's `--name value`
//! form, and CONFIG REWRITE that keeps the file's comments and order.

use super::table::{self, Kind, FILE_ONLY, TABLE};
use super::Config;

/// Lines of the form (directive, args) with their source for error messages.
pub struct Line {
    pub source: String,
    pub number: usize,
    pub text: String,
    pub args: Vec<String>,
}

/// A start-up configuration error, printed as Redis prints it.
#[derive(Debug)]
pub struct FatalConfigError(pub String);

fn fatal(line: &Line, why: &str) -> FatalConfigError {
    FatalConfigError(format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\nReading the configuration file, at line {} ({})\n>>> '{}'\n{}",
        crate::REDIS_VERSION,
        line.number,
        line.source,
        line.text,
        why
    ))
}

/// Splits a config line like Redis does (quotes, escapes). None on
/// unbalanced quotes.
pub fn split_args(line: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'"' || b[i] == b'\'' {
            let q = b[i];
            let start = i;
            i += 1;
            loop {
                if i >= b.len() {
                    return None;
                }
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 2;
                    continue;
                }
                if b[i] == q {
                    i += 1;
                    if i < b.len() && !b[i].is_ascii_whitespace() {
                        return None;
                    }
                    break;
                }
                i += 1;
            }
            let raw = crate::resp::parse::unquote_inline(&b[start..i]);
            args.push(String::from_utf8_lossy(&raw).into_owned());
        } else {
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            args.push(line[start..i].to_string());
        }
    }
    Some(args)
}

/// Reads a config file into lines, following `include` directives.
pub fn read_lines(path: &str, depth: usize, out: &mut Vec<Line>) -> Result<(), FatalConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        FatalConfigError(format!("Fatal error, can't open config file '{path}': {e}"))
    })?;
    lines_from_text(&text, path, depth, out)
}

pub fn lines_from_text(text: &str, source: &str, depth: usize, out: &mut Vec<Line>) -> Result<(), FatalConfigError> {
    for (n, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut line = Line { source: source.to_string(), number: n + 1, text: t.to_string(), args: Vec::new() };
        match split_args(t) {
            Some(a) if !a.is_empty() => line.args = a,
            _ => return Err(fatal(&line, "Unbalanced quotes in configuration line")),
        }
        if line.args[0].eq_ignore_ascii_case("include") && line.args.len() == 2 && depth < 16 {
            let p = line.args[1].clone();
            read_lines(&p, depth + 1, out)?;
            continue;
        }
        out.push(line);
    }
    Ok(())
}

/// Turns `--port 7000 --save "" --bind a b` into config lines.
pub fn lines_from_argv(argv: &[String]) -> Result<Vec<Line>, FatalConfigError> {
    let mut out: Vec<Line> = Vec::new();
    for a in argv {
        if let Some(name) = a.strip_prefix("--") {
            out.push(Line {
                source: "command line".into(),
                number: out.len() + 1,
                text: name.to_string(),
                args: vec![name.to_string()],
            });
        } else if let Some(l) = out.last_mut() {
            l.text.push(' ');
            l.text.push_str(a);
            l.args.push(a.clone());
        } else {
            let l = Line { source: "command line".into(), number: 1, text: a.clone(), args: vec![a.clone()] };
            return Err(fatal(&l, "Bad directive or wrong number of arguments"));
        }
    }
    // `--save` with no value (last, or followed by another option) means
    // `save ""`, as in Redis.
    for l in out.iter_mut() {
        if l.args.len() == 1 && l.args[0].eq_ignore_ascii_case("save") {
            l.args.push(String::new());
        }
    }
    Ok(out)
}

/// What applying config lines produced besides directive values.
#[derive(Default)]
pub struct Extras {
    /// `user ...` lines, for ACL.
    pub users: Vec<Vec<String>>,
    pub warnings: Vec<String>,
}

/// Applies lines in order (later wins). Multi-word values are joined; the
/// first `save` line resets the default rules and later ones add to them.
pub fn apply_lines(cfg: &mut Config, lines: &[Line], extras: &mut Extras) -> Result<(), FatalConfigError> {
    let mut save_seen = false;
    for line in lines {
        let name = line.args[0].to_ascii_lowercase();
        if FILE_ONLY.contains(&name.as_str()) {
            if name == "user" {
                extras.users.push(line.args[1..].to_vec());
            } else {
                extras.warnings.push(format!("Directive '{name}' is not supported by Redust and was ignored"));
            }
            continue;
        }
        let Some((idx, d)) = table::find(&name) else {
            return Err(fatal(line, "Bad directive or wrong number of arguments"));
        };
        if line.args.len() < 2 {
            // `save` and `bind` may legitimately have an empty value only
            // when quoted, which still yields one argument.
            return Err(fatal(line, "wrong number of arguments"));
        }
        let mut value = line.args[1..].join(" ");
        if d.kind == Kind::Save {
            if save_seen && !value.trim().is_empty() {
                let cur = cfg.display(idx);
                if !cur.is_empty() {
                    value = format!("{cur} {value}");
                }
            }
            save_seen = true;
        } else if !takes_several_words(d.kind) && line.args.len() > 2 {
            return Err(fatal(line, "wrong number of arguments"));
        }
        if d.name == "client-output-buffer-limit" {
            value = merge_output_limits(&cfg.display(idx), &value).map_err(|e| fatal(line, &e))?;
        }
        let v = super::parse_value(d, &value).map_err(|e| fatal(line, &e))?;
        cfg.set_index(idx, v);
    }
    Ok(())
}

/// Directives whose value may be written as several words in redis.conf.
fn takes_several_words(k: Kind) -> bool {
    matches!(
        k,
        Kind::Bind | Kind::Opaque | Kind::Custom(super::Special::OomValues) | Kind::Custom(super::Special::Percentiles)
            | Kind::Custom(super::Special::Cidrs)
    )
}

/// client-output-buffer-limit takes one class per line (or several in one
/// value); classes not mentioned keep their limits.
pub fn merge_output_limits(current: &str, update: &str) -> Result<String, String> {
    let mut classes: Vec<Vec<String>> = current
        .split_whitespace()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    let u: Vec<&str> = update.split_whitespace().collect();
    if !u.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    for c in u.chunks(4) {
        let class = match c[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        let hard = super::parse_memory(c[1]).ok_or("Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
        let soft = super::parse_memory(c[2]).ok_or("Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
        let secs: i64 = c[3].parse().map_err(|_| "Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
        if hard < 0 || soft < 0 || secs < 0 {
            return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
        }
        let entry = vec![class.to_string(), hard.to_string(), soft.to_string(), secs.to_string()];
        match classes.iter_mut().find(|e| e.first().map(|s| s.as_str()) == Some(class)) {
            Some(e) => *e = entry,
            None => classes.push(entry),
        }
    }
    Ok(classes.into_iter().map(|c| c.join(" ")).collect::<Vec<_>>().join(" "))
}

/// Quotes a value for redis.conf when needed.
fn conf_quote(s: &str) -> String {
    if !s.is_empty() && !s.bytes().any(|c| c.is_ascii_whitespace() || c == b'"' || c == b'\'' || c == b'\\' || !(0x20..0x7f).contains(&c)) {
        return s.to_string();
    }
    let mut o = String::from("\"");
    for c in s.bytes() {
        match c {
            b'\\' => o.push_str("\\\\"),
            b'"' => o.push_str("\\\""),
            b'\n' => o.push_str("\\n"),
            b'\r' => o.push_str("\\r"),
            b'\t' => o.push_str("\\t"),
            0x20..=0x7e => o.push(c as char),
            _ => o.push_str(&format!("\\x{c:02x}")),
        }
    }
    o.push('"');
    o
}

/// The directive lines for one directive as CONFIG REWRITE writes them.
fn directive_lines(cfg: &Config, idx: usize) -> Vec<String> {
    let d = &TABLE[idx];
    let v = cfg.display(idx);
    match d.kind {
        Kind::Save | Kind::Bind | Kind::Opaque if !v.is_empty() => vec![format!("{} {}", d.name, v)],
        // An empty replicaof (after REPLICAOF NO ONE) is no line at all.
        Kind::Opaque => Vec::new(),
        _ if d.name == "client-output-buffer-limit" => vec![format!("{} {}", d.name, v)],
        _ => vec![format!("{} {}", d.name, conf_quote(&v))],
    }
}

const REWRITE_MARKER: &str = "# Generated by CONFIG REWRITE";

/// Produces the new file text: lines of known directives get their current
/// values in place (the first occurrence; repeats are dropped), everything
/// else (comments, blank lines, include, user, ...) is kept, and directives
/// changed from their defaults that the file did not mention are appended.
pub fn rewrite_text(original: &str, cfg: &Config) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut written = vec![false; TABLE.len()];
    // A marker from an earlier rewrite stays where it is.
    let mut appended = false;
    for raw in original.lines() {
        if raw.trim() == REWRITE_MARKER {
            appended = true;
        }
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            out.push(raw.to_string());
            continue;
        }
        let name = split_args(t).and_then(|a| a.into_iter().next()).unwrap_or_default();
        match table::find(&name) {
            Some((idx, _)) => {
                if !written[idx] {
                    written[idx] = true;
                    out.extend(directive_lines(cfg, idx));
                }
            }
            None => out.push(raw.to_string()),
        }
    }
    let defaults = Config::default();
    for idx in 0..TABLE.len() {
        if written[idx] || cfg.display(idx) == defaults.display(idx) || TABLE[idx].name == "dir" {
            continue;
        }
        if !appended {
            out.push(REWRITE_MARKER.to_string());
            appended = true;
        }
        out.extend(directive_lines(cfg, idx));
    }
    // Redis always records the working directory it resolved.
    if !written[super::D::DIR as usize] && !cfg.str(super::D::DIR).is_empty() {
        if !appended {
            out.push(REWRITE_MARKER.to_string());
        }
        out.extend(directive_lines(cfg, super::D::DIR as usize));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_argv() {
        let mut lines = Vec::new();
        lines_from_text("# c\nport 7000\nsave 900 1\nsave 300 10\nbind 127.0.0.1 ::1\n", "t.conf", 0, &mut lines).unwrap();
        lines.extend(lines_from_argv(&["--port".into(), "7001".into(), "--maxmemory".into(), "1gb".into()]).unwrap());
        let mut cfg = Config::default();
        apply_lines(&mut cfg, &lines, &mut Extras::default()).unwrap();
        assert_eq!(cfg.int(super::super::D::PORT), 7001);
        assert_eq!(cfg.str(super::super::D::SAVE), "900 1 300 10");
        assert_eq!(cfg.int(super::super::D::MAXMEMORY), 1 << 30);
    }

    #[test]
    fn bad_directive_names_line() {
        let mut lines = Vec::new();
        lines_from_text("port 1\nmaxmemroy 1gb\n", "r.conf", 0, &mut lines).unwrap();
        let e = apply_lines(&mut Config::default(), &lines, &mut Extras::default()).err().unwrap();
        assert!(e.0.contains("at line 2"), "{}", e.0);
        assert!(e.0.contains(">>> 'maxmemroy 1gb'"));
        assert!(e.0.contains("Bad directive or wrong number of arguments"));
    }

    #[test]
    fn rewrite_keeps_comments() {
        let orig = "# hello\nport 7000\n\n# tail\nmaxmemory 10mb\n";
        let mut cfg = Config::default();
        cfg.set_startup("port", "7002").unwrap();
        cfg.set_startup("maxmemory", "20mb").unwrap();
        cfg.set_startup("timeout", "5").unwrap();
        let t = rewrite_text(orig, &cfg);
        assert!(t.starts_with("# hello\nport 7002\n\n# tail\nmaxmemory 20971520\n# Generated by CONFIG REWRITE\ntimeout 5\n"), "{t}");
    }
}
