//! Differential test: the same randomized command streams go to Redust and
//! to a real `redis-server` (7.0), over raw RESP, and the replies must be
//! byte-identical (except for the documented differences below).
//!
//! Reproduce a failure with the seed it prints:
//!
//! ```text
//! DIFF_SEED=1234 cargo test --test differential -- --nocapture
//! ```
//!
//! `DIFF_COMMANDS` sets the number of random commands (default 25000, about
//! 20 s in a debug build on 2 cores).
//!
//! Timing: TTLs the generator sets are either long (>= 100 s, they never
//! fire during a run), in the past (the key goes at once), or very short
//! (<= 8 ms) and followed by a sleep, so no key can expire between the
//! moments the two servers run the same command.

mod common;

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use redust::resp::reply::{read_frame, Frame};

// ---------------------------------------------------------------------------
// Documented differences: replies that legitimately differ.
// ---------------------------------------------------------------------------

/// HELLO's success reply: Redust reports `version` 7.2.4 (the version it is
/// compatible with) and has an extra `redust_version` field, and `id`
/// differs anyway. Only the reply's kind (map / flat array) is compared;
/// HELLO errors are compared exactly.
const DIFF_HELLO: &str = "hello";

/// INFO contents (versions, memory, counters...) are server specific; INFO
/// is not part of this test (it belongs to the server family).
const DIFF_INFO: &str = "info";

/// RANDOMKEY picks a different key: we only check both reply nil, or both a
/// key that EXISTS then confirms on the server that returned it.
const DIFF_RANDOMKEY: &str = "randomkey";

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME and OBJECT IDLETIME depend on the
/// clock: both replies must be in the same class (-2 / -1 / nil / >= 0) and
/// within this many seconds.
const TIMING_TOLERANCE_S: i64 = 2;

/// CLIENT ID, CLIENT INFO and CLIENT LIST describe the connection (ids,
/// addresses, ages): only the reply kind is compared.
const DIFF_CLIENT_IDENTITY: &[&str] = &["client|id", "client|info", "client|list"];

/// Features newer than Redis 7.0 that Redust implements on purpose: the
/// Redis 7.2 subcommands CLIENT SETINFO and CLIENT NO-TOUCH (7.0 answers
/// "ERR unknown subcommand") and the Redis 7.4 CLIENT KILL filter MAXAGE
/// (7.0 answers "ERR syntax error"). Redust must accept them.
const NEWER_THAN_70: &[&str] = &["client|setinfo", "client|no-touch", "client kill maxage"];

/// CLIENT HELP: Redust's text documents the features above (SETINFO,
/// NO-TOUCH, MAXAGE); Redis 7.0's does not. Only the reply kind is compared.
const DIFF_CLIENT_HELP: &str = "client|help";

/// Redis 7.2 wording that Redust uses on purpose where Redis 7.0 said
/// something else; Redis's reply is rewritten (7.0 -> 7.2) before
/// comparing:
/// - `<COMMAND> HELP` replies end with "HELP" / "    Print this help." in
///   7.2; 7.0 wrote "Prints this help.".
/// - The NOAUTH error of HELLO says "HELLO <proto> AUTH <user> <pass>" in
///   7.2; 7.0 said "HELLO AUTH <user> <pass>".
const WORDING_70_TO_72: &[(&str, &str)] = &[
    ("+    Prints this help.\r\n", "+    Print this help.\r\n"),
    (
        "otherwise the HELLO AUTH <user> <pass> option",
        "otherwise the HELLO <proto> AUTH <user> <pass> option",
    ),
];

/// OBJECT IDLETIME of a small integer value (0..9999): Redis stores all
/// keys holding it as one shared object, whose access time any of those
/// keys updates, so its idle time is not the key's. Only the reply kind is
/// compared.
const DIFF_SHARED_INT_IDLETIME: &str = "object|idletime on shared integers";

/// Redis 7.0 quirk: `SCAN ... TYPE none` returns keys that were logically
/// expired (looking up their type finds nothing: "none"). Redust filters
/// them like every other expired key; the generator does not use TYPE none.
const DIFF_SCAN_TYPE_NONE: &str = "scan type none";

/// All of the above, for the report printed at start.
const KNOWN_DIFFERENCES: &[&str] = &[
    DIFF_HELLO,
    DIFF_INFO,
    DIFF_RANDOMKEY,
    DIFF_CLIENT_HELP,
    DIFF_SHARED_INT_IDLETIME,
    DIFF_SCAN_TYPE_NONE,
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

type Args = Vec<Vec<u8>>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Printable form of binary data.
fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

fn show_cmd(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"", show(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn frame(b: &[u8]) -> Option<Frame> {
    read_frame(b).ok().flatten().map(|(f, _)| f)
}

/// How two replies are compared.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Check {
    Exact,
    /// A clock-dependent integer (or nil): same class, values within `tol`.
    Timing(i64),
    /// An array whose order is hash-table order (KEYS): compared as sets.
    Unordered,
    /// RANDOMKEY: both nil or both a key (the runner then checks that each
    /// key exists on its server).
    RandomKey,
    /// Same reply kind (first byte); errors must be identical.
    SameKind,
    /// A feature newer than Redis 7.0 (`NEWER_THAN_70`): Redis must reject
    /// it (unknown subcommand / syntax error) and Redust must not fail.
    Newer,
}

/// A connection to each server.
struct Pair {
    ours: Raw,
    redis: Raw,
}

impl Pair {
    fn new(a: &Server, b: &Server) -> Pair {
        Pair {
            ours: a.raw(),
            redis: b.raw(),
        }
    }

    /// Sends to both before reading either, so both run the command at
    /// nearly the same moment.
    fn call(&mut self, args: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        self.ours.send(args);
        self.redis.send(args);
        let a = self.ours.read_raw().map(|r| r.1).unwrap_or_default();
        let b = self.redis.read_raw().map(|r| r.1).unwrap_or_default();
        (a, b)
    }
}

/// Rewrites Redis 7.0 wording that Redust intentionally gives in its 7.2
/// form (see `WORDING_70_TO_72`).
fn normalize_70(b: &[u8]) -> Vec<u8> {
    let mut b = b.to_vec();
    for (old, new) in WORDING_70_TO_72 {
        if let Some(i) = b.windows(old.len()).position(|w| w == old.as_bytes()) {
            b = [&b[..i], new.as_bytes(), &b[i + old.len()..]].concat();
        }
    }
    b
}

/// Why two replies do not match, if they do not.
fn compare(check: Check, ours: &[u8], redis: &[u8]) -> Option<String> {
    let redis = &normalize_70(redis);
    if ours == redis {
        return None;
    }
    let (fa, fb) = (frame(ours), frame(redis));
    let ok = match check {
        Check::Exact => false,
        Check::Timing(tol) => match (fa, fb) {
            (Some(Frame::Int(a)), Some(Frame::Int(b))) => {
                let class = |v: i64| if v < 0 { v } else { 0 };
                class(a) == class(b) && (a - b).abs() <= tol
            }
            _ => false,
        },
        Check::Unordered => match (fa, fb) {
            (Some(Frame::Array(Some(mut a))), Some(Frame::Array(Some(mut b)))) => {
                let key = |f: &Frame| format!("{f:?}");
                a.sort_by_key(key);
                b.sort_by_key(key);
                a == b
            }
            _ => false,
        },
        Check::RandomKey => matches!(
            (fa, fb),
            (Some(Frame::Bulk(Some(_))), Some(Frame::Bulk(Some(_))))
                | (
                    Some(Frame::Null | Frame::Bulk(None)),
                    Some(Frame::Null | Frame::Bulk(None))
                )
        ),
        Check::SameKind => ours.first() == redis.first() && ours.first() != Some(&b'-'),
        Check::Newer => {
            let rejected =
                redis.starts_with(b"-ERR unknown subcommand") || redis == b"-ERR syntax error\r\n";
            rejected && !ours.starts_with(b"-") && !ours.is_empty()
        }
    };
    if ok {
        None
    } else {
        Some(format!(
            "redust: {}\n    redis:  {}",
            show(ours),
            show(redis)
        ))
    }
}

// ---------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------

/// Keys: a small pool so commands interact, weighted to the first six.
const KEY_POOL: &[&[u8]] = &[
    b"k0",
    b"k1",
    b"k2",
    b"k3",
    b"k4",
    b"k5",
    b"key:1",
    b"key:2",
    b"Key",
    b"k*",
    b"",
    b"bin\0\r\n\xff",
    b"\xff\xfe",
    b"nul\0key",
    b"long:0123456789012345678901234567890123456789",
];

const PATTERNS: &[&[u8]] = &[
    b"*", b"*", b"k*", b"k?", b"k[0-2]", b"k[^0-2]", b"key:*", b"*:*", b"k\\*", b"*\\**", b"[kK]*",
    b"?", b"", b"bin*", b"*\xff*", b"\xff*", b"k[", b"*[", b"[a-z]*", b"K*", b"*e*", b"k[2-0]",
    b"*0*9", b"??",
];

/// Integer tokens that are never a short positive TTL (so a fuzzed EXPIRE
/// cannot start a race) nor a huge allocation (SETRANGE).
const FUZZ_INTS: &[&str] = &[
    "0",
    "-1",
    "1000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "abc",
    "",
    "00",
    "+1",
];

const FUZZ_WORDS: &[&str] = &[
    "NX",
    "XX",
    "GT",
    "LT",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "LEN",
    "IDX",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "DB",
    "REPLACE",
    "MATCH",
    "COUNT",
    "TYPE",
    "ASYNC",
    "SYNC",
    "v",
    "hello",
];

/// Commands the arity/argument fuzzer may call (nothing that closes the
/// connection, changes the protocol, iterates with a cursor or kills
/// clients).
const FUZZ_COMMANDS: &[&str] = &[
    "get",
    "set",
    "setnx",
    "setex",
    "psetex",
    "getex",
    "getdel",
    "getset",
    "mget",
    "mset",
    "msetnx",
    "append",
    "strlen",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "incrbyfloat",
    "getrange",
    "substr",
    "setrange",
    "lcs",
    "del",
    "unlink",
    "exists",
    "touch",
    "type",
    "rename",
    "renamenx",
    "keys",
    "dbsize",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "persist",
    "move",
    "copy",
    "swapdb",
    "select",
    "flushdb",
    "ping",
    "echo",
    "auth",
];

enum Step {
    Cmd(Args, Check),
    /// A full SCAN iteration from cursor 0 with these options.
    Scan(Args),
    /// A command that sets a TTL of a few ms; then we sleep past it.
    ShortTtl(Args),
    /// OBJECT IDLETIME, after OBJECT REFCOUNT tells whether the value is a
    /// shared integer (see `DIFF_SHARED_INT_IDLETIME`).
    IdleTime(Args),
    /// DBSIZE, after a full SCAN has reaped logically expired keys (both
    /// servers count expired keys that active expiry has not reached yet).
    DbSize,
}

struct Gen {
    rng: SmallRng,
    resp3: bool,
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.rng.gen_range(0..xs.len())]
    }

    /// A command or option word, sometimes in mixed case.
    fn w(&mut self, s: &str) -> Vec<u8> {
        if self.chance(0.3) {
            s.bytes()
                .map(|c| {
                    if self.rng.gen_bool(0.5) {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        } else {
            s.as_bytes().to_vec()
        }
    }

    fn key(&mut self) -> Vec<u8> {
        if self.chance(0.75) {
            KEY_POOL[self.rng.gen_range(0..6)].to_vec()
        } else {
            self.pick(KEY_POOL).to_vec()
        }
    }

    fn keys(&mut self, min: usize, max: usize) -> Args {
        let n = self.rng.gen_range(min..=max);
        (0..n).map(|_| self.key()).collect()
    }

    fn alnum(&mut self, n: usize) -> Vec<u8> {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n).map(|_| A[self.rng.gen_range(0..A.len())]).collect()
    }

    /// Strings over a tiny alphabet, so LCS has interesting answers.
    fn lcs_text(&mut self) -> Vec<u8> {
        let n = self.rng.gen_range(0..24);
        (0..n).map(|_| b"abcd"[self.rng.gen_range(0..4)]).collect()
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..18) {
            0..=2 => self.rng.gen_range(0..10_000).to_string().into_bytes(),
            3 => self.pick(&["9999", "10000", "10001", "-1", "0"]).into(),
            4 => self
                .rng
                .gen_range(-1_000_000_000i64..1_000_000_000)
                .to_string()
                .into_bytes(),
            5 => self
                .pick(&[
                    "9223372036854775807",
                    "-9223372036854775808",
                    "9223372036854775806",
                    "9223372036854775808",
                    "-9223372036854775809",
                    "12345678901234567890",
                ])
                .into(),
            6 => self
                .pick(&["007", "+5", "-0", " 5", "5 ", "1e3", "0x10", "1_000"])
                .into(),
            7 => self
                .pick(&[
                    "1.5", "-0.25", "3.0", "1e3", "0.1", "inf", "-inf", "nan", "1e400", "10.5",
                    "5.0e3", "1.", ".5",
                ])
                .into(),
            8 | 9 => {
                let n = self.rng.gen_range(1..12);
                self.alnum(n)
            }
            10 | 11 => self.lcs_text(),
            12 => {
                let n = self.pick(&[43, 44, 45, 46]);
                self.alnum(n)
            }
            13 => {
                let n = self.rng.gen_range(47..160);
                self.alnum(n)
            }
            14 => {
                let n = self.rng.gen_range(0..20);
                (0..n)
                    .map(|_| self.pick(&[0u8, b'\r', b'\n', 0xff, b'a', b' ', 0x80, b'$', b'*']))
                    .collect()
            }
            15 => Vec::new(),
            _ => self
                .pick(&[
                    "hello",
                    "Hello World",
                    "foo",
                    "bar",
                    "ohmytext",
                    "mynewtext",
                ])
                .into(),
        }
    }

    /// An expiry amount that never fires during a run: long, zero/negative
    /// (immediate), or invalid. `ms`: milliseconds; `abs`: unix time.
    fn ttl(&mut self, ms: bool, abs: bool) -> Vec<u8> {
        let unit = if ms { 1000 } else { 1 };
        let now = if ms { now_ms() } else { now_ms() / 1000 };
        let v: i64 = match self.rng.gen_range(0..20) {
            0..=11 if abs => now + self.rng.gen_range(100..1_000_000) * unit,
            0..=11 => self.rng.gen_range(100..1_000_000) * unit,
            12 if abs => self.rng.gen_range(1..1_600_000_000) * unit, // the past
            12 => -self.rng.gen_range(0..1000),
            13 => 0,
            14 => -1,
            15 => {
                return self
                    .pick(&[
                        "9223372036854775807",
                        "-9223372036854775808",
                        "9223372036854775",
                        "9223372036854776",
                        "-9223372036854775",
                        "-9223372036854776",
                        "9223372036854775000",
                    ])
                    .into()
            }
            16 => {
                return self
                    .pick(&["abc", "", "1.5", "+100000", " 100000", "100000 "])
                    .into()
            }
            _ => now + self.rng.gen_range(1000..100_000) * unit,
        };
        v.to_string().into_bytes()
    }

    fn short_ms(&mut self) -> i64 {
        self.rng.gen_range(1..=8)
    }

    fn db(&mut self) -> Vec<u8> {
        if self.chance(0.8) {
            self.rng.gen_range(0..4).to_string().into_bytes()
        } else {
            self.pick(&[
                "15",
                "16",
                "-1",
                "abc",
                "4294967296",
                "2147483648",
                "",
                "1.0",
                "01",
            ])
            .into()
        }
    }

    fn range_int(&mut self) -> Vec<u8> {
        if self.chance(0.9) {
            self.rng.gen_range(-60..60).to_string().into_bytes()
        } else {
            self.pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "abc",
                "1.5",
                "",
                "2147483648",
                "-2147483649",
            ])
            .into()
        }
    }

    fn incr_arg(&mut self) -> Vec<u8> {
        if self.chance(0.6) {
            self.rng.gen_range(-1000..1000).to_string().into_bytes()
        } else {
            self.pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775808",
                "1.5",
                "abc",
                "",
                "+1",
                "01",
                " 1",
                "-0",
                "4611686018427387904",
            ])
            .into()
        }
    }

    fn float_arg(&mut self) -> Vec<u8> {
        self.pick(&[
            "1",
            "-1",
            "0.1",
            "1.5",
            "-2.25",
            "1e3",
            "3.0e3",
            "1e-5",
            "10.5",
            "0",
            "-0",
            "inf",
            "-inf",
            "nan",
            "abc",
            "",
            " 1",
            "1e400",
            "0x10",
            "5e-18",
            "1e30",
            "9e18",
            "1.7976931348623157e308",
            "+2",
            ".5",
        ])
        .into()
    }

    fn set_opts(&mut self, args: &mut Args) {
        for _ in 0..self.rng.gen_range(0..=3) {
            match self.rng.gen_range(0..22) {
                0..=2 => args.push(self.w("NX")),
                3..=5 => args.push(self.w("XX")),
                6..=8 => args.push(self.w("GET")),
                9..=10 => args.push(self.w("KEEPTTL")),
                11..=12 => {
                    args.push(self.w("EX"));
                    args.push(self.ttl(false, false));
                }
                13..=14 => {
                    args.push(self.w("PX"));
                    args.push(self.ttl(true, false));
                }
                15..=16 => {
                    args.push(self.w("EXAT"));
                    args.push(self.ttl(false, true));
                }
                17..=18 => {
                    args.push(self.w("PXAT"));
                    args.push(self.ttl(true, true));
                }
                19 => args.push(self.w("EX")),
                20 => args.push(self.w("PERSIST")),
                _ => args.push(self.w("FOO")),
            }
        }
    }

    fn getex_opts(&mut self, args: &mut Args) {
        for _ in 0..self.rng.gen_range(0..=2) {
            match self.rng.gen_range(0..16) {
                0..=2 => {
                    args.push(self.w("EX"));
                    args.push(self.ttl(false, false));
                }
                3..=4 => {
                    args.push(self.w("PX"));
                    args.push(self.ttl(true, false));
                }
                5..=6 => {
                    args.push(self.w("EXAT"));
                    args.push(self.ttl(false, true));
                }
                7..=8 => {
                    args.push(self.w("PXAT"));
                    args.push(self.ttl(true, true));
                }
                9..=11 => args.push(self.w("PERSIST")),
                12 => args.push(self.w("KEEPTTL")),
                13 => args.push(self.w("NX")),
                14 => args.push(self.w("PX")),
                _ => args.push(self.w("GET")),
            }
        }
    }

    fn cmd(&mut self, name: &str) -> Args {
        vec![self.w(name)]
    }

    /// One of `names`, as a new command.
    fn cmd_of(&mut self, names: &[&str]) -> Args {
        let n = self.pick(names);
        self.cmd(n)
    }

    /// One of `words`, sometimes in mixed case.
    fn w_of(&mut self, words: &[&str]) -> Vec<u8> {
        let n = self.pick(words);
        self.w(n)
    }

    fn next(&mut self) -> Step {
        use Check::*;
        let r = self.rng.gen_range(0..1000);
        let c = |v: Args| Step::Cmd(v, Exact);
        match r {
            0..=59 => {
                let mut a = self.cmd("get");
                a.push(self.key());
                c(a)
            }
            60..=139 => {
                let mut a = self.cmd("set");
                a.push(self.key());
                a.push(self.value());
                self.set_opts(&mut a);
                c(a)
            }
            140..=149 => {
                let mut a = self.cmd_of(&["setnx", "getset"]);
                a.push(self.key());
                a.push(self.value());
                c(a)
            }
            150..=164 => {
                let ms = self.chance(0.5);
                let mut a = self.cmd(if ms { "psetex" } else { "setex" });
                a.push(self.key());
                a.push(self.ttl(ms, false));
                a.push(self.value());
                c(a)
            }
            165..=189 => {
                let mut a = self.cmd("getex");
                a.push(self.key());
                self.getex_opts(&mut a);
                c(a)
            }
            190..=199 => {
                let mut a = self.cmd("getdel");
                a.push(self.key());
                c(a)
            }
            200..=214 => {
                let mut a = self.cmd("mget");
                a.extend(self.keys(1, 5));
                c(a)
            }
            215..=234 => {
                let name = if self.chance(0.5) { "mset" } else { "msetnx" };
                let mut a = self.cmd(name);
                for _ in 0..self.rng.gen_range(1..=3) {
                    a.push(self.key());
                    a.push(self.value());
                }
                if self.chance(0.08) {
                    a.pop();
                }
                c(a)
            }
            235..=254 => {
                let mut a = self.cmd("append");
                a.push(self.key());
                a.push(self.value());
                c(a)
            }
            255..=264 => {
                let mut a = self.cmd("strlen");
                a.push(self.key());
                c(a)
            }
            265..=299 => {
                let mut a = self.cmd_of(&["incr", "decr"]);
                a.push(self.key());
                c(a)
            }
            300..=324 => {
                let mut a = self.cmd_of(&["incrby", "decrby"]);
                a.push(self.key());
                a.push(self.incr_arg());
                c(a)
            }
            325..=344 => {
                let mut a = self.cmd("incrbyfloat");
                a.push(self.key());
                a.push(self.float_arg());
                c(a)
            }
            345..=369 => {
                let mut a = self.cmd_of(&["getrange", "substr"]);
                a.push(self.key());
                a.push(self.range_int());
                a.push(self.range_int());
                c(a)
            }
            370..=389 => {
                let mut a = self.cmd("setrange");
                a.push(self.key());
                a.push(if self.chance(0.9) {
                    self.rng.gen_range(0..70).to_string().into_bytes()
                } else {
                    self.pick(&[
                        "-1",
                        "536870912",
                        "1000000000",
                        "abc",
                        "9223372036854775807",
                    ])
                    .into()
                });
                a.push(if self.chance(0.15) {
                    Vec::new()
                } else {
                    self.value()
                });
                c(a)
            }
            390..=419 => {
                let mut a = self.cmd("lcs");
                a.push(self.key());
                a.push(self.key());
                for _ in 0..self.rng.gen_range(0..=3) {
                    match self.rng.gen_range(0..11) {
                        0..=1 => a.push(self.w("LEN")),
                        2..=4 => a.push(self.w("IDX")),
                        5..=6 => a.push(self.w("WITHMATCHLEN")),
                        7..=8 => {
                            a.push(self.w("MINMATCHLEN"));
                            a.push(
                                self.pick(&[
                                    "0",
                                    "1",
                                    "2",
                                    "3",
                                    "4",
                                    "-5",
                                    "abc",
                                    "9223372036854775807",
                                ])
                                .into(),
                            );
                        }
                        9 => a.push(self.w("MINMATCHLEN")),
                        _ => a.push(self.w("FOO")),
                    }
                }
                c(a)
            }
            420..=454 => {
                let mut a = self.cmd_of(&["del", "unlink", "exists", "touch"]);
                a.extend(self.keys(1, 4));
                c(a)
            }
            455..=464 => {
                let mut a = self.cmd("type");
                a.push(self.key());
                c(a)
            }
            465..=479 => {
                let mut a = self.cmd_of(&["rename", "renamenx"]);
                a.push(self.key());
                a.push(self.key());
                c(a)
            }
            480..=489 => {
                let mut a = self.cmd("keys");
                a.push(self.pick(PATTERNS).to_vec());
                Step::Cmd(a, Unordered)
            }
            490..=499 => self.scan(),
            500..=504 => Step::Cmd(self.cmd("randomkey"), RandomKey),
            505..=512 => Step::DbSize,
            513..=559 => {
                let name = self.pick(&["expire", "pexpire", "expireat", "pexpireat"]);
                let mut a = self.cmd(name);
                a.push(self.key());
                a.push(self.ttl(name.starts_with('p'), name.ends_with("at")));
                for _ in 0..self.rng.gen_range(0..=2) {
                    let o =
                        self.pick(&["NX", "XX", "GT", "LT", "NX", "XX", "GT", "LT", "FOO", "EX"]);
                    a.push(self.w(o));
                }
                c(a)
            }
            560..=589 => {
                let name = self.pick(&["ttl", "pttl", "expiretime", "pexpiretime"]);
                let tol = if name.starts_with('p') {
                    TIMING_TOLERANCE_S * 1000
                } else {
                    TIMING_TOLERANCE_S
                };
                let mut a = self.cmd(name);
                a.push(self.key());
                Step::Cmd(a, Timing(tol))
            }
            590..=604 => {
                let mut a = self.cmd("persist");
                a.push(self.key());
                c(a)
            }
            605..=619 => {
                let mut a = self.cmd("move");
                a.push(self.key());
                a.push(self.db());
                c(a)
            }
            620..=639 => {
                let mut a = self.cmd("copy");
                a.push(self.key());
                a.push(self.key());
                let mut opts: Vec<Args> = Vec::new();
                if self.chance(0.5) {
                    opts.push(vec![self.w("DB"), self.db()]);
                }
                if self.chance(0.4) {
                    opts.push(vec![self.w("REPLACE")]);
                }
                if self.chance(0.05) {
                    opts.push(vec![self.w("DB")]);
                }
                if self.chance(0.05) {
                    opts.push(vec![self.w("FOO")]);
                }
                if self.chance(0.5) {
                    opts.reverse();
                }
                a.extend(opts.into_iter().flatten());
                c(a)
            }
            640..=646 => {
                let mut a = self.cmd("swapdb");
                a.push(self.db());
                a.push(self.db());
                c(a)
            }
            647..=666 => {
                let mut a = self.cmd("select");
                a.push(self.db());
                c(a)
            }
            667..=669 => {
                let mut a = self.cmd("flushdb");
                if self.chance(0.4) {
                    a.push(self.w_of(&["ASYNC", "SYNC", "FOO"]));
                }
                c(a)
            }
            670 => {
                let mut a = self.cmd("flushall");
                if self.chance(0.3) {
                    a.push(self.w_of(&["ASYNC", "SYNC", "FOO"]));
                }
                c(a)
            }
            671..=704 => self.object(),
            705..=719 => {
                let mut a = self.cmd_of(&["ping", "echo"]);
                if a[0].eq_ignore_ascii_case(b"echo") || self.chance(0.5) {
                    a.push(self.value());
                }
                if self.chance(0.05) {
                    a.push(self.value());
                }
                c(a)
            }
            720..=769 => self.fuzz(),
            770..=779 => {
                let names: &[&[u8]] = &[
                    b"foo", b"GETT", b"sett", b"", b"ob ject", b"x\r\ny", b"get\0", b"\xff",
                ];
                let mut a = vec![self.pick(names).to_vec()];
                for _ in 0..self.rng.gen_range(0..4) {
                    a.push(self.key());
                }
                if self.chance(0.2) {
                    let n = self.rng.gen_range(100..200);
                    a.push(self.alnum(n));
                }
                c(a)
            }
            780..=809 => self.connection(),
            810..=849 => self.short_ttl(),
            _ => {
                // Plain writes keep the keyspace populated.
                let mut a = self.cmd("set");
                a.push(self.key());
                a.push(self.value());
                c(a)
            }
        }
    }

    fn scan(&mut self) -> Step {
        let mut a = self.cmd("scan");
        if self.chance(0.1) {
            a.push(
                self.pick(&[
                    "abc",
                    " 0",
                    "-1x",
                    "18446744073709551616",
                    "0x0",
                    "1.5",
                    "-",
                    "+",
                    "0 ",
                ])
                .into(),
            );
            return Step::Cmd(a, Check::Exact);
        }
        // Other spellings of cursor 0 (Redis parses it with strtoul).
        a.push(if self.chance(0.9) {
            b("0")
        } else {
            self.pick(&["", "+0", "-0", "00"]).into()
        });
        for _ in 0..self.rng.gen_range(0..=2) {
            match self.rng.gen_range(0..10) {
                0..=3 => {
                    a.push(self.w("MATCH"));
                    a.push(self.pick(PATTERNS).to_vec());
                }
                4..=6 => {
                    a.push(self.w("COUNT"));
                    let n = if self.chance(0.85) {
                        self.rng.gen_range(1..20).to_string()
                    } else {
                        self.pick(&["0", "-1", "abc"]).to_string()
                    };
                    a.push(n.into_bytes());
                }
                7..=8 => {
                    a.push(self.w("TYPE"));
                    a.push(self.w_of(&["string", "list", "hash", "STRING", "foo"]));
                }
                _ => a.push(self.w_of(&["MATCH", "COUNT", "FOO"])),
            }
        }
        Step::Scan(a)
    }

    fn object(&mut self) -> Step {
        let sub = self.pick(&[
            "ENCODING", "ENCODING", "ENCODING", "REFCOUNT", "REFCOUNT", "IDLETIME", "FREQ", "HELP",
            "FOO", "",
        ]);
        let mut a = self.cmd("object");
        if !sub.is_empty() {
            a.push(self.w(sub));
        }
        if sub != "HELP" || self.chance(0.2) {
            a.push(self.key());
        }
        if self.chance(0.05) {
            a.push(self.key());
        }
        if sub == "IDLETIME" && a.len() == 3 {
            return Step::IdleTime(a);
        }
        Step::Cmd(a, Check::Exact)
    }

    /// A known command with random arguments (often the wrong number).
    fn fuzz(&mut self) -> Step {
        let name = self.pick(FUZZ_COMMANDS);
        let mut a = self.cmd(name);
        for _ in 0..self.rng.gen_range(0..=5) {
            let t = match self.rng.gen_range(0..4) {
                0 | 1 => self.key(),
                2 => self.pick(FUZZ_INTS).into(),
                _ => self.w_of(FUZZ_WORDS),
            };
            a.push(t);
        }
        let check = match name {
            "ttl" | "expiretime" => Check::Timing(TIMING_TOLERANCE_S),
            "pttl" | "pexpiretime" => Check::Timing(TIMING_TOLERANCE_S * 1000),
            "keys" => Check::Unordered,
            _ => Check::Exact,
        };
        if name == "dbsize" && a.len() == 1 {
            return Step::DbSize;
        }
        Step::Cmd(a, check)
    }

    fn connection(&mut self) -> Step {
        use Check::*;
        let (args, check): (Vec<&[u8]>, Check) = match self.rng.gen_range(0..32) {
            0 => (vec![b"auth", b"pass"], Exact),
            1 => (vec![b"auth", b"default", b"anything"], Exact),
            2 => (vec![b"auth", b"nobody", b"pass"], Exact),
            3 => (vec![b"auth", b"a", b"b", b"c"], Exact),
            4 => (vec![b"client", b"getname"], Exact),
            5 => (vec![b"client", b"setname", b"conn-1"], Exact),
            6 => (vec![b"client", b"setname", b""], Exact),
            7 => (vec![b"client", b"setname", b"bad name"], Exact),
            8 => (vec![b"client", b"id"], SameKind),
            9 => (vec![b"client", b"info"], SameKind),
            10 => (vec![b"client", b"list"], SameKind),
            11 => (
                vec![
                    b"client",
                    b"no-evict",
                    if self.chance(0.5) { b"on" } else { b"off" },
                ],
                Exact,
            ),
            12 => (vec![b"client", b"no-evict", b"maybe"], Exact),
            13 => (vec![b"client", b"help"], SameKind),
            14 => (vec![b"client", b"reply", b"on"], Exact),
            15 => (vec![b"client", b"reply", b"maybe"], Exact),
            16 => (vec![b"client", b"kill", b"1.2.3.4:5"], Exact),
            17 => (vec![b"client", b"kill", b"id", b"999999"], Exact),
            18 => (vec![b"client", b"foo"], Exact),
            19 => (vec![b"client"], Exact),
            20 => (vec![b"client", b"setinfo", b"lib-name", b"x"], Newer),
            21 if self.chance(0.5) => (vec![b"client", b"no-touch", b"on"], Newer),
            21 => (vec![b"client", b"kill", b"maxage", b"1000000000"], Newer),
            22 => {
                let bad: &[&[&[u8]]] = &[
                    &[b"hello", b"4"],
                    &[b"hello", b"1"],
                    &[b"hello", b"abc"],
                    &[b"hello", b"3", b"foo"],
                    &[b"hello", b"2", b"auth", b"default"],
                    &[b"hello", b"2", b"auth", b"nobody", b"pass"],
                    &[b"hello", b"2", b"setname", b"bad name"],
                    &[b"hello", b"2", b"setname"],
                ];
                (self.pick(bad).to_vec(), Exact)
            }
            23 => {
                let proto: &[u8] = if self.resp3 { b"3" } else { b"2" };
                if self.chance(0.5) {
                    (vec![b"hello"], SameKind)
                } else {
                    (vec![b"hello", proto, b"setname", b"via-hello"], SameKind)
                }
            }
            24 if !self.resp3 => (vec![b"reset"], Exact),
            25 => (vec![b"select", b"abc"], Exact),
            _ => {
                // Filters that match no client, and bad ones. (Nothing that
                // could kill the test's own connections.)
                let more: &[(&[&[u8]], Check)] = &[
                    (&[b"client", b"list", b"type", b"foo"], Exact),
                    (&[b"client", b"list", b"type", b"normal"], SameKind),
                    (&[b"client", b"list", b"type", b"pubsub"], Exact),
                    (&[b"client", b"list", b"id", b"abc"], Exact),
                    (&[b"client", b"list", b"id", b"0"], Exact),
                    (&[b"client", b"list", b"id", b"999999", b"999998"], Exact),
                    (&[b"client", b"list", b"foo"], Exact),
                    (&[b"client", b"kill", b"id", b"abc"], Exact),
                    (&[b"client", b"kill", b"id", b"0"], Exact),
                    (&[b"client", b"kill", b"type", b"foo"], Exact),
                    (&[b"client", b"kill", b"type", b"pubsub"], Exact),
                    (&[b"client", b"kill", b"user", b"nobody"], Exact),
                    (&[b"client", b"kill", b"skipme", b"maybe"], Exact),
                    (&[b"client", b"kill", b"laddr", b"1.2.3.4:5"], Exact),
                    (
                        &[b"client", b"kill", b"addr", b"1.1.1.1:1", b"skipme", b"yes"],
                        Exact,
                    ),
                    (&[b"client", b"kill", b"addr", b"1.1.1.1:1", b"id"], Exact),
                    (&[b"client", b"kill", b"foo", b"bar"], Exact),
                    (&[b"client", b"kill", b"id"], Exact),
                    (&[b"client", b"info", b"extra"], Exact),
                    (&[b"client", b"getname", b"extra"], Exact),
                    (&[b"client", b"no-evict"], Exact),
                    (&[b"client", b"reply"], Exact),
                ];
                let (a, c) = self.pick(more);
                (a.to_vec(), c)
            }
        };
        let mut a: Args = args.iter().map(|x| x.to_vec()).collect();
        if self.chance(0.3) {
            a[0] = self.w(&String::from_utf8_lossy(&a[0]));
        }
        Step::Cmd(a, check)
    }

    fn short_ttl(&mut self) -> Step {
        let k = self.key();
        let v = self.value();
        let n = self.short_ms();
        let at = (now_ms() + n).to_string().into_bytes();
        let n = n.to_string().into_bytes();
        let a = match self.rng.gen_range(0..7) {
            0 => vec![self.w("set"), k, v, self.w("PX"), n],
            1 => vec![self.w("set"), k, v, self.w("PXAT"), at],
            2 => vec![self.w("psetex"), k, n, v],
            3 => vec![self.w("pexpire"), k, n],
            4 => vec![self.w("pexpireat"), k, at],
            5 => vec![self.w("getex"), k, self.w("PX"), n],
            _ => vec![self.w("set"), k, v, self.w("GET"), self.w("PX"), n],
        };
        Step::ShortTtl(a)
    }
}

// ---------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------

struct Runner {
    seed: u64,
    /// Per command name: replies that were errors, nil, and anything else
    /// (printed at the end, to see what the stream really exercised).
    stats: std::collections::BTreeMap<String, [u32; 3]>,
    step: usize,
    history: VecDeque<String>,
}

impl Runner {
    fn record(&mut self, tag: &str, args: &[Vec<u8>]) {
        if self.history.len() == 40 {
            self.history.pop_front();
        }
        self.history
            .push_back(format!("[{}] {tag} {}", self.step, show_cmd(args)));
    }

    /// Reports a mismatch and stops: the servers' states may have diverged,
    /// so later mismatches would only be echoes of this one.
    fn fail(&self, args: &[Vec<u8>], why: String) -> ! {
        let msg = format!(
            "MISMATCH (seed {}, step {}): {}\n    {}\n  recent commands:\n    {}",
            self.seed,
            self.step,
            show_cmd(args),
            why,
            self.history
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n    ")
        );
        eprintln!("{msg}");
        panic!(
            "differential mismatch; rerun with DIFF_SEED={} (see above)",
            self.seed
        );
    }

    fn call(
        &mut self,
        p: &mut Pair,
        tag: &str,
        args: &[Vec<u8>],
        check: Check,
    ) -> (Vec<u8>, Vec<u8>) {
        self.record(tag, args);
        let (a, b) = p.call(args);
        if a.is_empty() || b.is_empty() {
            self.fail(
                args,
                format!(
                    "connection closed (redust {} bytes, redis {} bytes)",
                    a.len(),
                    b.len()
                ),
            );
        }
        if let Some(why) = compare(check, &a, &b) {
            self.fail(args, why);
        }
        if check == Check::RandomKey {
            for (r, reply, who) in [(&mut p.ours, &a, "redust"), (&mut p.redis, &b, "redis")] {
                if let Some(Frame::Bulk(Some(k))) = frame(reply) {
                    r.send(&[b"exists".to_vec(), k.clone()]);
                    let n = r.read_raw().map(|x| x.1).unwrap_or_default();
                    if n != b":1\r\n" {
                        self.fail(
                            args,
                            format!("{who} returned {} which does not exist", show(&k)),
                        );
                    }
                }
            }
        }
        let name = String::from_utf8_lossy(&args[0]).to_lowercase();
        let slot = match &b[..] {
            [b'-', ..] => 0,
            b"$-1\r\n" | b"_\r\n" => 1,
            _ => 2,
        };
        self.stats.entry(name).or_default()[slot] += 1;
        (a, b)
    }

    /// Runs a full SCAN on each server and compares the sets of keys.
    fn scan(&mut self, p: &mut Pair, tag: &str, args: &[Vec<u8>]) {
        self.record(tag, args);
        let (a, b) = p.call(args);
        if a.starts_with(b"-") || b.starts_with(b"-") {
            if let Some(why) = compare(Check::Exact, &a, &b) {
                self.fail(args, why);
            }
            return;
        }
        let ka = match full_scan(&mut p.ours, args, a) {
            Ok(k) => k,
            Err(e) => self.fail(args, format!("redust: {e}")),
        };
        let kb = match full_scan(&mut p.redis, args, b) {
            Ok(k) => k,
            Err(e) => self.fail(args, format!("redis: {e}")),
        };
        if ka != kb {
            let s =
                |k: &BTreeSet<Vec<u8>>| k.iter().map(|x| show(x)).collect::<Vec<_>>().join(", ");
            self.fail(
                args,
                format!(
                    "scan sets differ\n    redust: {}\n    redis:  {}",
                    s(&ka),
                    s(&kb)
                ),
            );
        }
    }

    fn run_step(&mut self, p: &mut Pair, tag: &str, step: Step) {
        match step {
            Step::Cmd(a, check) => {
                self.call(p, tag, &a, check);
            }
            Step::Scan(a) => self.scan(p, tag, &a),
            Step::ShortTtl(a) => {
                self.call(p, tag, &a, Check::Exact);
                std::thread::sleep(Duration::from_millis(12));
            }
            Step::IdleTime(a) => {
                let refcount = vec![b("object"), b("refcount"), a[2].clone()];
                let (rc, _) = self.call(p, tag, &refcount, Check::Exact);
                let shared = rc == b":2147483647\r\n";
                self.call(
                    p,
                    tag,
                    &a,
                    if shared {
                        Check::SameKind
                    } else {
                        Check::Timing(TIMING_TOLERANCE_S)
                    },
                );
            }
            Step::DbSize => {
                self.scan(p, tag, &[b("scan"), b("0")]);
                self.call(p, tag, &[b("dbsize")], Check::Exact);
            }
        }
    }
}

/// Continues a SCAN whose first reply is `first` until the cursor is 0.
fn full_scan(r: &mut Raw, args: &[Vec<u8>], first: Vec<u8>) -> Result<BTreeSet<Vec<u8>>, String> {
    let mut keys = BTreeSet::new();
    let mut reply = first;
    for _ in 0..10_000 {
        let items = match frame(&reply) {
            Some(Frame::Array(Some(v))) if v.len() == 2 => v,
            _ => return Err(format!("bad SCAN reply {}", show(&reply))),
        };
        let cursor = match &items[0] {
            Frame::Bulk(Some(c)) => c.clone(),
            _ => return Err(format!("bad SCAN cursor {}", show(&reply))),
        };
        match &items[1] {
            Frame::Array(Some(ks)) => {
                for k in ks {
                    match k {
                        Frame::Bulk(Some(k)) => {
                            keys.insert(k.clone());
                        }
                        _ => return Err(format!("bad SCAN key {}", show(&reply))),
                    }
                }
            }
            _ => return Err(format!("bad SCAN keys {}", show(&reply))),
        }
        if cursor == b"0" {
            return Ok(keys);
        }
        let mut next = args.to_vec();
        next[1] = cursor;
        r.send(&next);
        reply = r.read_raw().map(|x| x.1).unwrap_or_default();
    }
    Err("SCAN did not finish".into())
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
fn differential_random_streams() {
    if !have_redis() {
        eprintln!("redis-server not installed; skipping the differential test");
        return;
    }
    let seed =
        env_u64("DIFF_SEED").unwrap_or_else(|| now_ms() as u64 ^ (std::process::id() as u64) << 32);
    let commands = env_u64("DIFF_COMMANDS").unwrap_or(25_000) as usize;
    eprintln!("differential: seed {seed} (DIFF_SEED), {commands} commands (DIFF_COMMANDS)");
    eprintln!("differential: documented differences: {KNOWN_DIFFERENCES:?} {DIFF_CLIENT_IDENTITY:?} {NEWER_THAN_70:?}");

    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut main = Pair::new(&ours, &redis);
    let mut r3 = Pair::new(&ours, &redis);
    let mut runner = Runner {
        seed,
        stats: Default::default(),
        step: 0,
        history: VecDeque::new(),
    };
    // RESP3 on the second pair: HELLO's reply is a documented difference.
    runner.call(&mut r3, "resp3", &[b("HELLO"), b("3")], Check::SameKind);

    let mut g2 = Gen {
        rng: SmallRng::seed_from_u64(seed),
        resp3: false,
    };
    let mut g3 = Gen {
        rng: SmallRng::seed_from_u64(seed.wrapping_add(1)),
        resp3: true,
    };
    let mut pick = SmallRng::seed_from_u64(seed.wrapping_add(2));
    let start = Instant::now();
    for i in 0..commands {
        runner.step = i;
        if pick.gen_bool(0.15) {
            let s = g3.next();
            runner.run_step(&mut r3, "resp3", s);
        } else {
            let s = g2.next();
            runner.run_step(&mut main, "resp2", s);
        }
    }
    eprintln!(
        "differential: {commands} commands in {:.1}s, no mismatch",
        start.elapsed().as_secs_f64()
    );
    eprintln!("differential: replies per command (errors / nil / other):");
    for (name, [e, n, o]) in &runner.stats {
        eprintln!("    {name:<14} {e:>6} {n:>6} {o:>6}");
    }
}

// ---------------------------------------------------------------------------
// Focused deterministic cases (replies verified against Redis 7.0.15).
// ---------------------------------------------------------------------------

/// Runs `script` on both servers; each step's reply must match Redis and,
/// when given, the expected bytes.
/// A scripted command and, if checked, its expected reply.
type ScriptStep<'a> = (&'a [&'a [u8]], Option<&'a [u8]>);

fn script(pair: &mut Pair, steps: &[ScriptStep]) {
    for (args, expect) in steps {
        let args: Args = args.iter().map(|a| a.to_vec()).collect();
        let (a, b) = pair.call(&args);
        assert_eq!(
            show(&a),
            show(&normalize_70(&b)),
            "redust vs redis for {}",
            show_cmd(&args)
        );
        if let Some(e) = expect {
            assert_eq!(show(&a), show(e), "expected reply for {}", show_cmd(&args));
        }
    }
}

#[test]
fn differential_focused_cases() {
    if !have_redis() {
        eprintln!("redis-server not installed; skipping");
        return;
    }
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut p = Pair::new(&ours, &redis);
    let far = (now_ms() / 1000 + 100_000).to_string();
    let far = far.as_bytes();
    script(
        &mut p,
        &[
            // EXPIRE with a time in the past deletes the key and replies 1.
            (&[b"set", b"k", b"v"], Some(b"+OK\r\n")),
            (&[b"expire", b"k", b"-1"], Some(b":1\r\n")),
            (&[b"exists", b"k"], Some(b":0\r\n")),
            (&[b"set", b"k", b"v"], None),
            (&[b"expireat", b"k", b"1"], Some(b":1\r\n")),
            (&[b"get", b"k"], Some(b"$-1\r\n")),
            // On a missing key every EXPIRE variant replies 0.
            (&[b"pexpire", b"k", b"-1"], Some(b":0\r\n")),
            // GT on a key without TTL: no TTL counts as infinite.
            (&[b"set", b"k", b"v"], None),
            (&[b"expireat", b"k", far, b"gt"], Some(b":0\r\n")),
            (&[b"expireat", b"k", far, b"lt"], Some(b":1\r\n")),
            (&[b"expire", b"k", b"100", b"nx", b"xx"], None),
            (&[b"expire", b"k", b"100", b"gt", b"lt"], None),
            (&[b"expire", b"k", b"100", b"foo"], None),
            // GETRANGE with negative and out-of-range indexes.
            (&[b"set", b"s", b"Hello World"], None),
            (&[b"getrange", b"s", b"-3", b"-1"], Some(b"$3\r\nrld\r\n")),
            (&[b"getrange", b"s", b"-1", b"-5"], Some(b"$0\r\n\r\n")),
            (&[b"getrange", b"s", b"5", b"3"], Some(b"$0\r\n\r\n")),
            (&[b"getrange", b"s", b"-100", b"-50"], None),
            (&[b"getrange", b"s", b"-100", b"2"], Some(b"$3\r\nHel\r\n")),
            (&[b"getrange", b"s", b"0", b"-100"], None),
            (&[b"getrange", b"s", b"20", b"30"], Some(b"$0\r\n\r\n")),
            (&[b"getrange", b"nosuch", b"0", b"-1"], Some(b"$0\r\n\r\n")),
            (&[b"substr", b"s", b"0", b"9223372036854775807"], Some(b"$11\r\nHello World\r\n")),
            // LCS with IDX, MINMATCHLEN and WITHMATCHLEN (the documented example).
            (&[b"mset", b"a", b"ohmytext", b"b", b"mynewtext"], Some(b"+OK\r\n")),
            (&[b"lcs", b"a", b"b"], Some(b"$6\r\nmytext\r\n")),
            (&[b"lcs", b"a", b"b", b"len"], Some(b":6\r\n")),
            (
                &[b"lcs", b"a", b"b", b"idx"],
                Some(b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"),
            ),
            (
                &[b"lcs", b"a", b"b", b"idx", b"minmatchlen", b"4", b"withmatchlen"],
                Some(b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"),
            ),
            (&[b"lcs", b"a", b"b", b"len", b"idx"], None),
            (&[b"lcs", b"a", b"nosuch", b"idx"], None),
            // SET option conflicts and GET.
            (&[b"set", b"g", b"1", b"nx", b"xx"], Some(b"-ERR syntax error\r\n")),
            (&[b"set", b"g", b"1", b"ex", b"10", b"px", b"10"], Some(b"-ERR syntax error\r\n")),
            (&[b"set", b"g", b"1", b"keepttl", b"ex", b"10"], Some(b"-ERR syntax error\r\n")),
            (&[b"set", b"g", b"1", b"ex", b"0"], Some(b"-ERR invalid expire time in 'set' command\r\n")),
            (&[b"set", b"g", b"1", b"get"], Some(b"$-1\r\n")),
            (&[b"set", b"g", b"2", b"get", b"nx"], Some(b"$1\r\n1\r\n")),
            (&[b"get", b"g"], Some(b"$1\r\n1\r\n")),
            (&[b"set", b"g", b"3", b"xx", b"get"], Some(b"$1\r\n1\r\n")),
            // Counters.
            (&[b"set", b"n", b"9223372036854775807"], None),
            (&[b"incr", b"n"], Some(b"-ERR increment or decrement would overflow\r\n")),
            (&[b"decrby", b"n", b"-9223372036854775808"], None),
            (&[b"incrbyfloat", b"n", b"1"], None),
            (&[b"set", b"f", b"1"], None),
            (&[b"incrbyfloat", b"f", b"1"], Some(b"$1\r\n2\r\n")),
            (&[b"object", b"encoding", b"f"], None),
            (&[b"incrbyfloat", b"f", b"inf"], None),
            // Shared small integers and COPY.
            (&[b"set", b"i", b"123"], None),
            (&[b"object", b"refcount", b"i"], None),
            (&[b"copy", b"i", b"i2"], Some(b":1\r\n")),
            (&[b"object", b"refcount", b"i2"], None),
            (&[b"object", b"encoding", b"i2"], None),
            // Database arguments.
            (&[b"select", b"abc"], None),
            (&[b"select", b"99999999999"], None),
            (&[b"select", b"16"], None),
            (&[b"move", b"i", b"99999999999"], None),
            (&[b"move", b"i", b"0"], None),
            (&[b"swapdb", b"0", b"abc"], None),
            (&[b"copy", b"i", b"i3", b"db", b"-1"], None),
            // Expiry at the edges of the clock.
            (&[b"set", b"e", b"v", b"pxat", b"9223372036854775807"], Some(b"+OK\r\n")),
            (&[b"expiretime", b"e"], None),
            (&[b"pexpiretime", b"e"], Some(b":9223372036854775807\r\n")),
            (&[b"expire", b"e", b"9223372036854775807"], None),
            (&[b"pexpire", b"e", b"9223372036854775807"], None),
            (&[b"set", b"e", b"v", b"ex", b"9223372036854775"], None),
            // Errors from the dispatcher.
            (&[b"get"], Some(b"-ERR wrong number of arguments for 'get' command\r\n")),
            (&[b"object", b"encoding"], None),
            (&[b"object", b"foo"], None),
            (&[b"nosuchcmd", b"a", b"b"], None),
            // Binary-safe keys and values.
            (&[b"set", b"\x00\r\n\xff", b"\r\n\x00"], Some(b"+OK\r\n")),
            (&[b"get", b"\x00\r\n\xff"], Some(b"$3\r\n\r\n\x00\r\n")),
            (&[b"strlen", b"\x00\r\n\xff"], Some(b":3\r\n")),
        ],
    );
    // Big operands: LCS refuses a table over proto-max-bulk-len before
    // building it; INCRBYFLOAT refuses what a long double cannot hold.
    for (args, expect) in [
        (vec![b("set"), b("la"), vec![b'a'; 12_000]], "+OK\\r\\n"),
        (vec![b("set"), b("lb"), vec![b'b'; 12_000]], "+OK\\r\\n"),
        (
            vec![b("lcs"), b("la"), b("lb")],
            "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\\r\\n",
        ),
        (
            vec![b("set"), b("big"), [&b"1"[..], &[b'0'; 5110]].concat()],
            "+OK\\r\\n",
        ),
        (
            vec![b("incrbyfloat"), b("big"), b("1")],
            "-ERR value is not a valid float\\r\\n",
        ),
        (
            vec![
                b("incrbyfloat"),
                b("nosuch"),
                [&b"1"[..], &[b'0'; 5200]].concat(),
            ],
            "-ERR value is not a valid float\\r\\n",
        ),
    ] {
        let (x, y) = p.call(&args);
        assert_eq!(
            (show(&x), show(&y)),
            (expect.to_string(), expect.to_string()),
            "{}",
            show_cmd(&args[..2])
        );
    }

    // QUIT replies OK, then the connection closes.
    let (x, y) = p.call(&[b("quit")]);
    assert_eq!(
        (show(&x), show(&y)),
        ("+OK\\r\\n".into(), "+OK\\r\\n".into())
    );
    assert!(p.ours.is_closed());

    // RESP3: nil, LCS IDX as a map.
    let mut p = Pair::new(&ours, &redis);
    let (x, y) = p.call(&[b("hello"), b("3")]);
    assert_eq!((x[0], y[0]), (b'%', b'%'));
    script(
        &mut p,
        &[
            (&[b"get", b"nosuch"], Some(b"_\r\n")),
            (&[b"set", b"g", b"1", b"get"], None),
            (
                &[b"lcs", b"a", b"b", b"idx", b"minmatchlen", b"4", b"withmatchlen"],
                Some(b"%2\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"),
            ),
            (&[b"incrbyfloat", b"f", b"0.5"], None),
            (&[b"object", b"encoding", b"nosuch"], Some(b"_\r\n")),
            (&[b"client", b"getname"], None),
            (&[b"reset"], Some(b"+RESET\r\n")),
            (&[b"get", b"nosuch"], Some(b"$-1\r\n")),
        ],
    );
}

/// Errors that quote client bytes do it as Redis's `%s`: up to the first
/// NUL byte, other bytes (CR/LF aside) as they are.
#[test]
fn differential_error_quoting() {
    if !have_redis() {
        return;
    }
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut p = Pair::new(&ours, &redis);
    script(
        &mut p,
        &[
            (
                &[b"get\x00x", b"k"],
                Some(b"-ERR unknown command 'get', with args beginning with: 'k' \r\n"),
            ),
            (
                &[b"foo", b"a\x00b", b"c"],
                Some(b"-ERR unknown command 'foo', with args beginning with: 'a' 'c' \r\n"),
            ),
            (
                &[b"foo", b"\xff"],
                Some(b"-ERR unknown command 'foo', with args beginning with: '\xff' \r\n"),
            ),
            (
                &[b"object", b"x\x00y"],
                Some(b"-ERR unknown subcommand 'x'. Try OBJECT HELP.\r\n"),
            ),
            (&[b"set", b"k", b"v"], None),
            (
                &[b"expire", b"k", b"100", b"\xffx\x00y"],
                Some(b"-ERR Unsupported option \xffx\r\n"),
            ),
            (
                &[b"expire", b"k", b"100", b"a\r\nb"],
                Some(b"-ERR Unsupported option a  b\r\n"),
            ),
            (&[b"hello", b"2", b"\xfe\x00"], None),
            (&[b"client", b"list", b"type", b"\xff"], None),
            (&[b"client", b"kill", b"type", b"x\x00\xff"], None),
            (&[b"client", b"kill", b"user", b"\xff"], None),
        ],
    );
}

/// Authentication with `requirepass` (AUTH, HELLO ... AUTH, NOAUTH errors)
/// and CLIENT REPLY, compared with Redis.
#[test]
fn differential_auth_and_client_reply() {
    if !have_redis() {
        return;
    }
    let ours = Server::start(&["--requirepass", "secret"]);
    let redis = Server::start_redis(&["--requirepass", "secret"]);
    let mut p = Pair::new(&ours, &redis);
    script(
        &mut p,
        &[
            (
                &[b"get", b"k"],
                Some(b"-NOAUTH Authentication required.\r\n"),
            ),
            (&[b"ping"], None),
            (&[b"nosuch"], None),
            (&[b"hello", b"2"], None),
            (&[b"hello", b"3", b"auth", b"default", b"wrong"], None),
            (
                &[b"auth", b"wrong"],
                Some(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
            ),
            (&[b"auth", b"nobody", b"secret"], None),
            (&[b"auth", b"a", b"b", b"c"], None),
            (&[b"auth", b"secret"], Some(b"+OK\r\n")),
            (&[b"set", b"k", b"v"], Some(b"+OK\r\n")),
            (&[b"reset"], Some(b"+RESET\r\n")),
            (
                &[b"get", b"k"],
                Some(b"-NOAUTH Authentication required.\r\n"),
            ),
            (&[b"auth", b"default", b"secret"], Some(b"+OK\r\n")),
            (&[b"get", b"k"], Some(b"$1\r\nv\r\n")),
        ],
    );
    let (x, y) = p.call(&[b("hello"), b("2"), b("auth"), b("default"), b("secret")]);
    assert_eq!((x[0], y[0]), (b'*', b'*'));

    // CLIENT REPLY OFF / SKIP: only the reply of CLIENT REPLY ON comes back.
    for r in [&mut p.ours, &mut p.redis] {
        for cmd in [
            &["client", "reply", "off"][..],
            &["set", "x", "1"],
            &["client", "reply", "skip"],
            &["get", "x"],
            &["client", "reply", "on"],
        ] {
            r.send(cmd);
        }
        r.send(&["client", "reply", "skip"]);
        r.send(&["incr", "x"]);
        r.send(&["get", "x"]);
        let replies: Vec<String> = (0..2)
            .map(|_| show(&r.read_raw().expect("reply").1))
            .collect();
        assert_eq!(replies, ["+OK\\r\\n", "$1\\r\\n2\\r\\n"]);
    }
}

/// Which commands update a key's access time: after the keys have been idle
/// for 3 seconds, each gets one command, then OBJECT IDLETIME tells whether
/// that command touched it (0) or not (3), on both servers.
#[test]
fn differential_access_time() {
    if !have_redis() {
        return;
    }
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let mut p = Pair::new(&ours, &redis);
    let probes: &[&[&str]] = &[
        &["get", "K"],
        &["mget", "x", "K"],
        &["strlen", "K"],
        &["getrange", "K", "0", "1"],
        &["substr", "K", "0", "1"],
        &["lcs", "K", "x"],
        &["type", "K"],
        &["exists", "K"],
        &["touch", "K"],
        &["ttl", "K"],
        &["pttl", "K"],
        &["expiretime", "K"],
        &["object", "encoding", "K"],
        &["object", "refcount", "K"],
        &["keys", "K"],
        &["scan", "0", "match", "K", "count", "1000"],
        &["append", "K", "x"],
        &["setrange", "K", "1", "x"],
        &["getex", "K"],
        &["getex", "K", "persist"],
        &["persist", "K"],
        &["expire", "K", "1000"],
        &["expire", "K", "1000", "xx"],
        &["set", "K", "w", "keepttl", "nx"],
        &["setnx", "K", "w"],
        &["msetnx", "K", "w"],
        &["incrbyfloat", "K", "x"],
        &["incr", "K"],
        &["rename", "K", "K"],
        &["renamenx", "K", "K"],
        &["copy", "K", "K"],
        &["copy", "idle:src", "K"],
        &["move", "K", "0"],
        &["rename", "K", "K:dst"],
        &["renamenx", "K", "idle:src"],
        &["renamenx", "idle:src", "K"],
        &["msetnx", "K", "w", "idle:src", "w"],
    ];
    let key = |i: usize| format!("idle:{i}");
    p.call(&[b("set"), b("idle:src"), b("some text")]);
    for i in 0..probes.len() {
        p.call(&[b("set"), key(i).into_bytes(), b("some text")]);
    }
    std::thread::sleep(Duration::from_millis(3300));
    for (i, probe) in probes.iter().enumerate() {
        let args: Args = probe
            .iter()
            .map(|a| a.replace("K", &key(i)).into_bytes())
            .collect();
        let (x, y) = p.call(&args);
        assert_eq!(show(&x), show(&y), "{}", show_cmd(&args));
    }
    let mut bad = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        // After a RENAME the value lives at the destination.
        let k = if probe.contains(&"K:dst") {
            format!("{}:dst", key(i))
        } else {
            key(i)
        };
        let (x, y) = p.call(&[b("object"), b("idletime"), k.into_bytes()]);
        if let Some(why) = compare(Check::Timing(1), &x, &y) {
            bad.push(format!("idle time after {probe:?}: {why}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
