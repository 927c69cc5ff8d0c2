//! Differential test for the list family: seeded random list operations on
//! a small key pool go to Redust and to a real redis-server over raw RESP
//! (one RESP2 and one RESP3 connection to each), and every reply must be
//! byte-identical. `list-max-listpack-size` is changed now and then so that
//! both small (listpack) and many-node (quicklist) lists are exercised.
//!
//! Reproduce a failure with the seed it prints:
//!
//! ```text
//! DIFF_SEED=1234 cargo test --release --test diff_lists -- --nocapture
//! ```
//!
//! `DIFF_LIST_OPS` sets the number of operations (default 30000).
//!
//! Documented differences, not generated here: OBJECT ENCODING (Redis 7.0
//! always says "quicklist", 7.2 and Redust say "listpack" for small
//! lists), LPOS RANK -9223372036854775808 (an error in 7.2), blocking
//! timeouts below one millisecond or beyond i64 milliseconds (see
//! `server::blocking::parse_timeout`), and COMMAND INFO for the blocking
//! commands (7.2 dropped their `noscript` flag).

mod common;

use std::collections::VecDeque;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const KEYS: &[&str] = &["l1", "l2", "l3", "s"];

fn val(rng: &mut SmallRng) -> String {
    match rng.gen_range(0..20) {
        0..=5 => format!("v{}", rng.gen_range(0..6)),
        6..=9 => rng.gen_range(-5i64..6).to_string(),
        10 => [
            "127",
            "128",
            "-4096",
            "4096",
            "32768",
            "-8388609",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
        ][rng.gen_range(0..9)]
        .to_string(),
        11 => ["", "007", "-0", "+1", " 1", "1.0", "9223372036854775808"][rng.gen_range(0..7)]
            .to_string(),
        12 => "m".repeat(rng.gen_range(60..70)),
        13 if rng.gen_ratio(1, 8) => "B".repeat(rng.gen_range(4000..9000)),
        _ => format!("e{}", rng.gen_range(0..3)),
    }
}

fn idx(rng: &mut SmallRng) -> String {
    match rng.gen_range(0..12) {
        0 => "x".into(),
        1 => ["9223372036854775807", "-9223372036854775808", "100", "-100"][rng.gen_range(0..4)]
            .into(),
        _ => rng.gen_range(-12i64..12).to_string(),
    }
}

fn key(rng: &mut SmallRng) -> String {
    if rng.gen_ratio(1, 30) {
        "nokey".into()
    } else {
        KEYS[rng.gen_range(0..KEYS.len())].into()
    }
}

fn side(rng: &mut SmallRng) -> String {
    match rng.gen_range(0..20) {
        0 => "up".into(),
        n if n % 2 == 0 => "LEFT".into(),
        _ => "right".into(),
    }
}

fn gen(rng: &mut SmallRng) -> Vec<String> {
    let s = |x: &str| x.to_string();
    let k = key(rng);
    let pick = rng.gen_range(0..100);
    let mut c: Vec<String> = match pick {
        0..=11 => {
            let mut c = vec![s(["LPUSH", "RPUSH"][rng.gen_range(0..2)]), k];
            for _ in 0..rng.gen_range(1..12) {
                c.push(val(rng));
            }
            c
        }
        12..=14 => vec![
            s(["LPUSHX", "RPUSHX"][rng.gen_range(0..2)]),
            k,
            val(rng),
            val(rng),
        ],
        15..=24 => {
            let mut c = vec![s(["LPOP", "RPOP"][rng.gen_range(0..2)]), k];
            match rng.gen_range(0..6) {
                0 => c.push(rng.gen_range(0..4).to_string()),
                1 => c.push(["0", "-1", "x", "100"][rng.gen_range(0..4)].into()),
                2 => c.push(rng.gen_range(1..20).to_string()),
                _ => {}
            }
            c
        }
        25..=27 => vec![s("LLEN"), k],
        28..=35 => vec![s("LRANGE"), k, idx(rng), idx(rng)],
        36..=40 => vec![s("LINDEX"), k, idx(rng)],
        41..=44 => vec![s("LSET"), k, idx(rng), val(rng)],
        45..=49 => vec![
            s("LINSERT"),
            k,
            s(["BEFORE", "after", "middle"][rng.gen_range(0..3)]),
            val(rng),
            val(rng),
        ],
        50..=54 => vec![
            s("LREM"),
            k,
            s(["0", "1", "-1", "2", "-2", "x"][rng.gen_range(0..6)]),
            val(rng),
        ],
        55..=57 => vec![s("LTRIM"), k, idx(rng), idx(rng)],
        58..=65 => {
            let mut c = vec![s("LPOS"), k, val(rng)];
            for _ in 0..rng.gen_range(0..3) {
                match rng.gen_range(0..8) {
                    0 | 1 => c.extend([s("RANK"), rng.gen_range(-3i64..4).to_string()]),
                    2 | 3 => c.extend([s("COUNT"), rng.gen_range(-1i64..4).to_string()]),
                    4 | 5 => c.extend([s("MAXLEN"), rng.gen_range(-1i64..8).to_string()]),
                    6 => c.push(s("RANK")),
                    _ => c.extend([s("FOO"), s("1")]),
                }
            }
            c
        }
        66..=72 => vec![s("LMOVE"), k, key(rng), side(rng), side(rng)],
        73..=76 => vec![s("RPOPLPUSH"), k, key(rng)],
        77..=84 => {
            let n = rng.gen_range(0..4);
            let mut c = vec![
                s("LMPOP"),
                if rng.gen_ratio(1, 15) {
                    s("x")
                } else {
                    n.to_string()
                },
            ];
            for _ in 0..n {
                c.push(key(rng));
            }
            if rng.gen_ratio(1, 15) {
                c.pop();
            }
            c.push(side(rng));
            match rng.gen_range(0..5) {
                0 => c.extend([s("COUNT"), rng.gen_range(-1i64..5).to_string()]),
                1 => c.extend([s("COUNT"), s("2"), s("COUNT"), s("3")]),
                _ => {}
            }
            c
        }
        85..=86 => {
            // Blocking forms: with data they answer at once; without, both
            // servers time out after 10 ms.
            let t = s(["0.01", "-1", "x"][rng.gen_range(0..3)]);
            match rng.gen_range(0..5) {
                0 => vec![s("BLPOP"), k, key(rng), t],
                1 => vec![s("BRPOP"), k, t],
                2 => vec![s("BLMOVE"), k, key(rng), side(rng), side(rng), t],
                3 => vec![s("BRPOPLPUSH"), k, key(rng), t],
                _ => vec![
                    s("BLMPOP"),
                    t,
                    s("2"),
                    k,
                    key(rng),
                    side(rng),
                    s("COUNT"),
                    s("2"),
                ],
            }
        }
        87..=88 => vec![s("SET"), s("s"), val(rng)],
        89 => vec![s("DEL"), k],
        90..=91 => vec![s("TYPE"), k],
        92 => vec![s("EXISTS"), k],
        93 => vec![s("EXPIRE"), k, s("1000")],
        94 => vec![s("PERSIST"), k],
        95 => vec![s("DEL"), s("s")],
        96 => {
            let fill = ["-1", "-2", "1", "2", "3", "5", "128"][rng.gen_range(0..7)];
            vec![s("CONFIG"), s("SET"), s("list-max-listpack-size"), s(fill)]
        }
        97 => vec![
            s("LPOS"),
            k,
            val(rng),
            s("COUNT"),
            s("0"),
            s("RANK"),
            s("-1"),
        ],
        _ => vec![s("LRANGE"), k, s("0"), s("-1")],
    };
    if rng.gen_ratio(1, 200) {
        // Wrong arity now and then.
        c.truncate(1);
    }
    c
}

#[test]
fn random_list_operations_match_redis() {
    if !have_redis() {
        eprintln!("redis-server not installed: skipping the list differential test");
        return;
    }
    let seed: u64 = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let ops: usize = std::env::var("DIFF_LIST_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30000);
    eprintln!("diff_lists seed {seed} ({ops} operations)");
    let mut rng = SmallRng::seed_from_u64(seed);
    let ours = Server::start(&[]);
    let theirs = Server::start_redis(&[]);
    // [RESP2, RESP3] connections to each server.
    let mut a = [ours.raw(), ours.raw()];
    let mut b = [theirs.raw(), theirs.raw()];
    a[1].call_raw(&["HELLO", "3"]);
    b[1].call_raw(&["HELLO", "3"]);
    let mut recent: VecDeque<String> = VecDeque::new();
    let start = Instant::now();
    let check = |i: usize, cmd: &[String], x: &[u8], y: &[u8], recent: &VecDeque<String>| {
        if x != y {
            panic!(
                "diff_lists: replies differ (seed {seed}, op {i}, resp{})\ncommand: {cmd:?}\nredust: {:?}\nredis:  {:?}\nrecent commands:\n{}",
                if i.is_multiple_of(7) { 3 } else { 2 },
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y),
                recent.iter().cloned().collect::<Vec<_>>().join("\n"),
            );
        }
    };
    for i in 0..ops {
        let cmd = gen(&mut rng);
        let conn = (i % 7 == 0) as usize;
        recent.push_back(format!("[resp{}] {}", 2 + conn, cmd.join(" ")));
        if recent.len() > 30 {
            recent.pop_front();
        }
        let x = a[conn].call_raw(&cmd);
        let y = b[conn].call_raw(&cmd);
        check(i, &cmd, &x, &y, &recent);
    }
    // Phase two: one long list (thousands of elements, many nodes) under
    // positional operations.
    let big_ops = ops / 6;
    for i in 0..big_ops {
        let s = |x: &str| x.to_string();
        let n = 3000i64;
        let at = rng.gen_range(-n..n).to_string();
        let cmd: Vec<String> = match rng.gen_range(0..14) {
            0 if i % 500 == 0 => vec![
                s("CONFIG"),
                s("SET"),
                s("list-max-listpack-size"),
                s(["-1", "-2", "-3", "7", "100"][rng.gen_range(0..5)]),
            ],
            0 | 1 => {
                let mut c = vec![s(["LPUSH", "RPUSH"][rng.gen_range(0..2)]), s("big")];
                for _ in 0..rng.gen_range(1..40) {
                    c.push(val(&mut rng));
                }
                c
            }
            2 => vec![s("LINDEX"), s("big"), at],
            3 => vec![s("LSET"), s("big"), at, val(&mut rng)],
            4 => vec![
                s("LINSERT"),
                s("big"),
                s(["BEFORE", "AFTER"][rng.gen_range(0..2)]),
                val(&mut rng),
                val(&mut rng),
            ],
            5 => vec![
                s("LRANGE"),
                s("big"),
                at.clone(),
                (at.parse::<i64>().unwrap_or(0) + rng.gen_range(0..30)).to_string(),
            ],
            6 => vec![
                s("LREM"),
                s("big"),
                rng.gen_range(-3i64..4).to_string(),
                val(&mut rng),
            ],
            7 => vec![
                s("LPOS"),
                s("big"),
                val(&mut rng),
                s("RANK"),
                s(["2", "-2", "1", "-1"][rng.gen_range(0..4)]),
                s("COUNT"),
                rng.gen_range(0i64..4).to_string(),
            ],
            8 => vec![
                s(["LPOP", "RPOP"][rng.gen_range(0..2)]),
                s("big"),
                rng.gen_range(1i64..30).to_string(),
            ],
            9 => vec![
                s("LMOVE"),
                s("big"),
                s("big"),
                side(&mut rng),
                side(&mut rng),
            ],
            10 if rng.gen_ratio(1, 20) => vec![
                s("LTRIM"),
                s("big"),
                rng.gen_range(0i64..20).to_string(),
                rng.gen_range(-20i64..-1).to_string(),
            ],
            _ => vec![s("LLEN"), s("big")],
        };
        let conn = (i % 7 == 0) as usize;
        recent.push_back(format!("[resp{}] {}", 2 + conn, cmd.join(" ")));
        if recent.len() > 30 {
            recent.pop_front();
        }
        let x = a[conn].call_raw(&cmd);
        let y = b[conn].call_raw(&cmd);
        check(ops + i, &cmd, &x, &y, &recent);
    }
    // Final contents of every key.
    for k in KEYS.iter().chain(&["big"]) {
        let cmd = vec!["LRANGE".to_string(), k.to_string(), "0".into(), "-1".into()];
        let x = a[0].call_raw(&cmd);
        let y = b[0].call_raw(&cmd);
        check(ops, &cmd, &x, &y, &recent);
    }
    let lens: Vec<String> = KEYS
        .iter()
        .chain(&["big"])
        .map(|k| {
            String::from_utf8_lossy(&a[0].call_raw(&["LLEN", k]))
                .trim()
                .to_string()
        })
        .collect();
    eprintln!(
        "diff_lists: {ops} operations identical in {:?}; final LLENs {lens:?}",
        start.elapsed()
    );
}
