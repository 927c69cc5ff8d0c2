//! redis.conf.example: it documents every directive of the directive table
//! in Redis's section order, Redust starts with it as its config file, and
//! (without its marked Redust-only and Redis 7.2 blocks) so does a real
//! Redis 7.0, with the same CONFIG GET values for every directive it sets.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::*;
use redust::config::file::{apply_lines, lines_from_text, Extras};
use redust::config::table::{self, FILE_ONLY, TABLE};
use redust::config::Config;
use redust::resp::reply::Frame;

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("redis.conf.example")
}

fn example() -> String {
    std::fs::read_to_string(example_path()).expect("read redis.conf.example")
}

/// Redis 7's section banners, in its order, then Redust's own section.
const SECTIONS: &[&str] = &[
    "INCLUDES",
    "MODULES",
    "NETWORK",
    "TLS/SSL",
    "GENERAL",
    "SNAPSHOTTING",
    "REPLICATION",
    "KEYS TRACKING",
    "SECURITY",
    "CLIENTS",
    "MEMORY MANAGEMENT",
    "LAZY FREEING",
    "THREADED I/O",
    "KERNEL OOM CONTROL",
    "KERNEL transparent hugepage CONTROL",
    "APPEND ONLY MODE",
    "SHUTDOWN",
    "NON-DETERMINISTIC LONG BLOCKING COMMANDS",
    "REDIS CLUSTER",
    "CLUSTER DOCKER/NAT support",
    "SLOW LOG",
    "LATENCY MONITOR",
    "LATENCY TRACKING",
    "EVENT NOTIFICATION",
    "ADVANCED CONFIG",
    "ACTIVE DEFRAGMENTATION",
    "REDUST EXTENSIONS",
];

/// Whether `line` (uncommented) is a directive line Redust accepts: a known
/// name with a value that parses, or a `<placeholder>` value.
fn accepted(line: &str) -> bool {
    let mut lines = Vec::new();
    if lines_from_text(line, "example", 0, &mut lines).is_err() || lines.len() != 1 {
        return false;
    }
    let args = &lines[0].args;
    if args.len() > 1 && args[1].starts_with('<') {
        return true;
    }
    apply_lines(&mut Config::default(), &lines, &mut Extras::default()).is_ok()
}

/// The directive names the file shows on active or commented directive
/// lines (`name value` or `# name value`), as written (aliases included).
fn documented(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for raw in text.lines() {
        let line = match raw.strip_prefix("# ") {
            Some(rest) => rest.trim(),
            None if raw.starts_with('#') => continue,
            None => raw.trim(),
        };
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if FILE_ONLY.contains(&name) {
            names.insert(name.to_string());
            continue;
        }
        let known =
            table::find(name).is_some_and(|(_, d)| d.name == name || d.aliases.contains(&name));
        // A prose line that merely starts with a directive's name ("#
        // tls-port opens ...") does not count: its "value" fails to parse.
        if known && accepted(line) {
            names.insert(name.to_string());
        }
    }
    names
}

#[test]
fn every_directive_is_documented_in_redis_order() {
    let text = example();
    let names = documented(&text);
    let missing: Vec<&str> = TABLE
        .iter()
        .map(|d| d.name)
        .chain(FILE_ONLY.iter().copied().filter(|n| *n != "sentinel"))
        .filter(|n| !names.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "redis.conf.example lacks a documented line (`name value` or `# name value`) for: {}",
        missing.join(", ")
    );

    let banners: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("#####") && l.len() > 20)
        .map(|l| l.trim_matches('#').trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(banners, SECTIONS, "section banners and their order");

    // Every active line is one Redust accepts (start-up would stop on it)
    // and, like Redis's file, restates the built-in default, except for the
    // paths Redis's file spells out.
    let defaults = Config::default();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let name = line.split_whitespace().next().unwrap_or("");
        if FILE_ONLY.contains(&name) {
            continue;
        }
        assert!(accepted(line), "active line not accepted: {line}");
        let Some((idx, _)) = table::find(name) else {
            continue;
        };
        if ["pidfile", "dir"].contains(&name) {
            continue;
        }
        let mut cfg = Config::default();
        let mut lines = Vec::new();
        lines_from_text(line, "example", 0, &mut lines).expect("parsed above");
        apply_lines(&mut cfg, &lines, &mut Extras::default()).expect("accepted above");
        assert_eq!(
            cfg.display(idx),
            defaults.display(idx),
            "active line is not the default: {line}"
        );
    }

    // The directives Redis 7.0 lacks sit inside marked blocks, so the
    // filtered file below is a Redis 7.0 config.
    let filtered = redis_only(&text);
    for only in [
        "metrics-port",
        "ip-allowlist",
        "locale-collate",
        "set-max-listpack-entries",
    ] {
        let named = |t: &str| documented(t).contains(only);
        assert!(
            named(&text) && !named(&filtered),
            "{only} is not in a marked block"
        );
    }
    assert!(
        filtered.contains("\nuser tenant on "),
        "user lines survive filtering"
    );
}

/// The file without its `# >>> ...` / `# <<< ...` blocks.
fn redis_only(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with("# >>> ") {
            assert!(!skipping, "nested marker: {line}");
            skipping = true;
        } else if line.starts_with("# <<< ") {
            assert!(skipping, "unbalanced marker: {line}");
            skipping = false;
        } else if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(!skipping, "unterminated marker block");
    out
}

fn config_get(r: &mut Raw, name: &str) -> Frame {
    r.call(&["CONFIG", "GET", name])
}

fn texts(f: &Frame) -> Vec<String> {
    match f {
        Frame::Array(Some(items)) => items
            .iter()
            .map(|i| match i {
                Frame::Bulk(Some(b)) | Frame::Simple(b) => String::from_utf8_lossy(b).into_owned(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => vec![format!("{other:?}")],
    }
}

/// Starts `bin` with `conf` (port, dir, logfile and bind come from the
/// harness; the pidfile is moved out of /var/run).
fn start_with(bin: &str, tag: &str, conf: &str, scratch: &std::path::Path) -> Server {
    let pid = scratch.join(format!("{tag}.pid"));
    Server::spawn(
        bin,
        tag,
        &[conf, "--pidfile", pid.to_str().expect("utf-8 path")],
    )
}

#[test]
fn redust_starts_with_the_example() {
    let scratch = temp_dir("confex");
    let path = example_path();
    let s = start_with(
        redust_bin(),
        "redust",
        path.to_str().expect("utf-8 path"),
        &scratch,
    );
    let mut r = s.raw();
    for (name, want) in [
        ("maxmemory-policy", "noeviction"),
        ("auto-aof-rewrite-min-size", "67108864"),
        ("appendfilename", "appendonly.aof"),
        ("proc-title-template", "{title} {listen-addr} {server-mode}"),
        (
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        ),
        ("notify-keyspace-events", ""),
        ("oom-score-adj-values", "0 200 800"),
        ("metrics-port", "0"),
    ] {
        assert_eq!(
            texts(&config_get(&mut r, name)),
            vec![name, want],
            "CONFIG GET {name}"
        );
    }

    // The managed-service recipe's users exist and are confined.
    assert_eq!(
        texts(&r.call(&["ACL", "USERS"])),
        vec!["default", "reader", "tenant", "writer"]
    );
    let noperm = |u: &str, c: &str| {
        err(&format!(
            "NOPERM User {u} has no permissions to run the '{c}' command"
        ))
    };
    let mut tenant = s.raw();
    assert_eq!(
        tenant.call(&["AUTH", "tenant", "tenant-password"]),
        simple("OK")
    );
    assert_eq!(tenant.call(&["SET", "k", "v"]), simple("OK"));
    assert_eq!(
        config_get(&mut tenant, "port"),
        noperm("tenant", "config|get")
    );
    assert_eq!(tenant.call(&["BGSAVE"]), noperm("tenant", "bgsave"));
    let mut reader = s.raw();
    assert_eq!(
        reader.call(&["AUTH", "reader", "reader-password"]),
        simple("OK")
    );
    assert_eq!(reader.call(&["GET", "k"]), bulk("v"));
    assert_eq!(reader.call(&["SET", "k", "w"]), noperm("reader", "set"));
    let mut writer = s.raw();
    assert_eq!(
        writer.call(&["AUTH", "writer", "writer-password"]),
        simple("OK")
    );
    assert_eq!(writer.call(&["SET", "k", "w"]), simple("OK"));
    assert_eq!(writer.call(&["FLUSHALL"]), noperm("writer", "flushall"));
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Set on the command line by the harness or by `start_with`, so they
/// differ between the two servers by design.
const OVERRIDDEN: &[&str] = &["port", "dir", "logfile", "pidfile", "bind", "save"];

#[test]
fn real_redis_accepts_the_example_with_the_same_values() {
    if !have_redis() {
        eprintln!("redis-server not installed (scripts/test.sh installs it); skipping");
        return;
    }
    let scratch = temp_dir("confex-redis");
    let conf = scratch.join("redis.conf");
    std::fs::write(&conf, redis_only(&example())).expect("write filtered config");
    let conf = conf.to_str().expect("utf-8 path");
    let redis = start_with("redis-server", "redis", conf, &scratch);
    let redust = start_with(redust_bin(), "redust", conf, &scratch);
    let (mut a, mut b) = (redis.raw(), redust.raw());

    let active: BTreeSet<String> = redis_only(&example())
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|n| n != "user" && !OVERRIDDEN.contains(&n.as_str()))
        .collect();
    assert!(active.len() > 40, "only {} active directives", active.len());
    let mut differ = Vec::new();
    for name in &active {
        let (want, got) = (config_get(&mut a, name), config_get(&mut b, name));
        if want != got {
            differ.push(format!(
                "{name}: redis {:?}, redust {:?}",
                texts(&want),
                texts(&got)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "CONFIG GET differs:\n{}",
        differ.join("\n")
    );
    assert_eq!(
        texts(&a.call(&["ACL", "USERS"])),
        texts(&b.call(&["ACL", "USERS"]))
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
