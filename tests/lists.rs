//! List commands end to end: every command and option through the `redis`
//! crate and raw RESP (exact reply bytes), edge cases, errors, encodings,
//! and blocking behaviour with several clients (FIFO service, fractional
//! timeouts, disconnects, BLMOVE chains). Scripted sequences are also
//! replayed against a real redis-server when one is installed and must
//! give identical bytes there.
mod common;

use std::time::{Duration, Instant};

use common::*;

/// One server per test; `r` runs a command and returns its exact reply.
struct T {
    s: Server,
    c: Raw,
}

impl T {
    fn new() -> T {
        let s = Server::start(&[]);
        let c = s.raw();
        T { s, c }
    }

    fn r(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.c.call_raw(args)).into_owned()
    }
}

/// Runs a script on Redust and, where installed, on redis-server; every
/// reply must match `expected` (a fragment of exact RESP) on Redust, and
/// be byte-identical on both servers.
fn script(steps: &[(&[&str], &str)]) {
    let ours = Server::start(&[]);
    let mut a = ours.raw();
    let theirs = have_redis().then(|| Server::start_redis(&[]));
    let mut b = theirs.as_ref().map(|s| s.raw());
    for (cmd, want) in steps {
        let x = String::from_utf8_lossy(&a.call_raw(cmd)).into_owned();
        assert_eq!(&x, want, "Redust reply to {cmd:?}");
        if let Some(b) = b.as_mut() {
            let y = String::from_utf8_lossy(&b.call_raw(cmd)).into_owned();
            assert_eq!(x, y, "redis-server disagrees on {cmd:?}");
        }
    }
}

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";

fn arr(items: &[&str]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s.push_str(&format!("${}\r\n{}\r\n", i.len(), i));
    }
    s
}

#[test]
fn push_pop_len_range() {
    script(&[
        (&["RPUSH", "l", "a", "b", "c"], ":3\r\n"),
        (&["LPUSH", "l", "x", "y"], ":5\r\n"),
        (
            &["LRANGE", "l", "0", "-1"],
            &arr(&["y", "x", "a", "b", "c"]),
        ),
        (&["LLEN", "l"], ":5\r\n"),
        (&["LLEN", "nokey"], ":0\r\n"),
        (&["LPUSHX", "nokey", "a"], ":0\r\n"),
        (&["RPUSHX", "nokey", "a", "b"], ":0\r\n"),
        (&["EXISTS", "nokey"], ":0\r\n"),
        (&["LPUSHX", "l", "p1", "p2"], ":7\r\n"),
        (&["RPUSHX", "l", "q"], ":8\r\n"),
        (&["LPOP", "l"], "$2\r\np2\r\n"),
        (&["RPOP", "l"], "$1\r\nq\r\n"),
        (&["LPOP", "l", "2"], &arr(&["p1", "y"])),
        (&["RPOP", "l", "2"], &arr(&["c", "b"])),
        (&["LPOP", "l", "0"], "*0\r\n"),
        (&["LPOP", "l", "100"], &arr(&["x", "a"])),
        // The emptied list is gone.
        (&["EXISTS", "l"], ":0\r\n"),
        (&["LPOP", "l"], "$-1\r\n"),
        (&["LPOP", "l", "0"], "*-1\r\n"),
        (&["RPOP", "l", "5"], "*-1\r\n"),
        (
            &["LPOP", "l", "-1"],
            "-ERR value is out of range, must be positive\r\n",
        ),
        (
            &["LPOP", "l", "x"],
            "-ERR value is out of range, must be positive\r\n",
        ),
        (
            &["LPOP", "l", "1", "2"],
            "-ERR wrong number of arguments for 'lpop' command\r\n",
        ),
        (
            &["LPUSH", "l"],
            "-ERR wrong number of arguments for 'lpush' command\r\n",
        ),
        (&["LRANGE", "nokey", "0", "-1"], "*0\r\n"),
    ]);
}

#[test]
fn ranges_and_indexes() {
    script(&[
        (&["RPUSH", "l", "0", "1", "2", "3", "4", "5"], ":6\r\n"),
        (&["LRANGE", "l", "1", "3"], &arr(&["1", "2", "3"])),
        (&["LRANGE", "l", "-2", "-1"], &arr(&["4", "5"])),
        (&["LRANGE", "l", "-100", "1"], &arr(&["0", "1"])),
        (&["LRANGE", "l", "4", "100"], &arr(&["4", "5"])),
        (&["LRANGE", "l", "3", "2"], "*0\r\n"),
        (&["LRANGE", "l", "6", "10"], "*0\r\n"),
        (
            &["LRANGE", "l", "-9223372036854775808", "9223372036854775807"],
            &arr(&["0", "1", "2", "3", "4", "5"]),
        ),
        (&["LRANGE", "l", "a", "1"], NOT_INT),
        (&["LRANGE", "l", "0", "1.5"], NOT_INT),
        (&["LINDEX", "l", "0"], "$1\r\n0\r\n"),
        (&["LINDEX", "l", "-1"], "$1\r\n5\r\n"),
        (&["LINDEX", "l", "6"], "$-1\r\n"),
        (&["LINDEX", "l", "-7"], "$-1\r\n"),
        (&["LINDEX", "l", "x"], NOT_INT),
        (&["LINDEX", "nokey", "x"], "$-1\r\n"),
        (&["LSET", "l", "0", "zero"], "+OK\r\n"),
        (&["LSET", "l", "-1", "five"], "+OK\r\n"),
        (&["LSET", "l", "6", "x"], "-ERR index out of range\r\n"),
        (&["LSET", "l", "-7", "x"], "-ERR index out of range\r\n"),
        (&["LSET", "l", "x", "x"], NOT_INT),
        (&["LSET", "nokey", "0", "x"], "-ERR no such key\r\n"),
        (&["LSET", "nokey", "x", "x"], "-ERR no such key\r\n"),
        (
            &["LRANGE", "l", "0", "-1"],
            &arr(&["zero", "1", "2", "3", "4", "five"]),
        ),
        (&["LTRIM", "l", "1", "-2"], "+OK\r\n"),
        (&["LRANGE", "l", "0", "-1"], &arr(&["1", "2", "3", "4"])),
        (&["LTRIM", "l", "-100", "100"], "+OK\r\n"),
        (&["LLEN", "l"], ":4\r\n"),
        (&["LTRIM", "l", "a", "1"], NOT_INT),
        (&["LTRIM", "nokey", "0", "1"], "+OK\r\n"),
        (&["LTRIM", "l", "3", "1"], "+OK\r\n"),
        (&["EXISTS", "l"], ":0\r\n"),
    ]);
}

#[test]
fn insert_rem_pos() {
    script(&[
        (&["RPUSH", "l", "a", "b", "a", "c", "a", "1"], ":6\r\n"),
        (&["LINSERT", "l", "BEFORE", "b", "x"], ":7\r\n"),
        (&["LINSERT", "l", "after", "c", "y"], ":8\r\n"),
        (&["LINSERT", "l", "after", "1", "2"], ":9\r\n"),
        (&["LINSERT", "l", "before", "zz", "y"], ":-1\r\n"),
        (&["LINSERT", "l", "middle", "a", "y"], SYNTAX),
        (&["LINSERT", "nokey", "before", "a", "y"], ":0\r\n"),
        (&["LRANGE", "l", "0", "-1"], &arr(&["a", "x", "b", "a", "c", "y", "a", "1", "2"])),
        (&["LPOS", "l", "a"], ":0\r\n"),
        (&["LPOS", "l", "a", "RANK", "2"], ":3\r\n"),
        (&["LPOS", "l", "a", "RANK", "-1"], ":6\r\n"),
        (&["LPOS", "l", "a", "RANK", "-3"], ":0\r\n"),
        (&["LPOS", "l", "a", "RANK", "4"], "$-1\r\n"),
        (&["LPOS", "l", "a", "COUNT", "0"], "*3\r\n:0\r\n:3\r\n:6\r\n"),
        (&["LPOS", "l", "a", "COUNT", "2"], "*2\r\n:0\r\n:3\r\n"),
        (&["LPOS", "l", "a", "COUNT", "0", "RANK", "-1"], "*3\r\n:6\r\n:3\r\n:0\r\n"),
        (&["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "4"], "*2\r\n:0\r\n:3\r\n"),
        (&["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "2"], "$-1\r\n"),
        (&["LPOS", "l", "1", "COUNT", "0"], "*1\r\n:7\r\n"),
        (&["LPOS", "l", "zz", "COUNT", "0"], "*0\r\n"),
        (&["LPOS", "nokey", "a", "COUNT", "0"], "*0\r\n"),
        (&["LPOS", "nokey", "a"], "$-1\r\n"),
        (&["LPOS", "l", "a", "RANK", "0"], "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"),
        (&["LPOS", "l", "a", "RANK", "x"], NOT_INT),
        (&["LPOS", "l", "a", "COUNT", "-1"], "-ERR COUNT can't be negative\r\n"),
        (&["LPOS", "l", "a", "MAXLEN", "-1"], "-ERR MAXLEN can't be negative\r\n"),
        (&["LPOS", "l", "a", "RANK"], SYNTAX),
        (&["LPOS", "l", "a", "FOO", "1"], SYNTAX),
        (&["LREM", "l", "1", "a"], ":1\r\n"),
        (&["LREM", "l", "-1", "a"], ":1\r\n"),
        (&["LRANGE", "l", "0", "-1"], &arr(&["x", "b", "a", "c", "y", "1", "2"])),
        (&["RPUSH", "l", "b", "b"], ":9\r\n"),
        (&["LREM", "l", "0", "b"], ":3\r\n"),
        (&["LREM", "l", "0", "zz"], ":0\r\n"),
        (&["LREM", "l", "x", "a"], NOT_INT),
        (&["LREM", "nokey", "0", "a"], ":0\r\n"),
        (&["LREM", "l", "-9223372036854775808", "2"], ":1\r\n"),
        (&["LRANGE", "l", "0", "-1"], &arr(&["x", "a", "c", "y", "1"])),
    ]);
}

#[test]
fn lpos_rank_min_is_out_of_range_as_in_redis_72() {
    // Redis 7.0 accepts -9223372036854775808 (its negation overflows);
    // 7.2 rejects it.
    let mut t = T::new();
    t.r(&["RPUSH", "l", "a"]);
    assert_eq!(
        t.r(&["LPOS", "l", "a", "RANK", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        t.r(&["LPOS", "l", "a", "RANK", "-9223372036854775807"]),
        "$-1\r\n"
    );
}

#[test]
fn moves_and_mpop() {
    script(&[
        (&["RPUSH", "src", "a", "b", "c"], ":3\r\n"),
        (&["LMOVE", "src", "dst", "LEFT", "RIGHT"], "$1\r\na\r\n"),
        (&["LMOVE", "src", "dst", "right", "left"], "$1\r\nc\r\n"),
        (&["LRANGE", "dst", "0", "-1"], &arr(&["c", "a"])),
        (&["RPOPLPUSH", "src", "dst"], "$1\r\nb\r\n"),
        (&["EXISTS", "src"], ":0\r\n"),
        (&["LRANGE", "dst", "0", "-1"], &arr(&["b", "c", "a"])),
        (&["RPOPLPUSH", "src", "dst"], "$-1\r\n"),
        (&["LMOVE", "src", "dst", "LEFT", "LEFT"], "$-1\r\n"),
        (&["LMOVE", "src", "dst", "UP", "LEFT"], SYNTAX),
        (&["LMOVE", "dst", "dst", "LEFT", "RIGHT"], "$1\r\nb\r\n"),
        (&["LRANGE", "dst", "0", "-1"], &arr(&["c", "a", "b"])),
        // Rotating a one-element list keeps the key and its TTL.
        (&["RPUSH", "one", "x"], ":1\r\n"),
        (&["EXPIRE", "one", "100"], ":1\r\n"),
        (&["RPOPLPUSH", "one", "one"], "$1\r\nx\r\n"),
        (&["TTL", "one"], ":100\r\n"),
        (&["SET", "str", "v"], "+OK\r\n"),
        (&["LMOVE", "dst", "str", "LEFT", "LEFT"], WRONGTYPE),
        (&["LMOVE", "str", "dst", "LEFT", "LEFT"], WRONGTYPE),
        (&["LMOVE", "nokey", "str", "LEFT", "LEFT"], "$-1\r\n"),
        (&["LLEN", "dst"], ":3\r\n"),
        (
            &["LMPOP", "2", "nokey", "dst", "LEFT"],
            "*2\r\n$3\r\ndst\r\n*1\r\n$1\r\nc\r\n",
        ),
        (
            &["LMPOP", "1", "dst", "RIGHT", "COUNT", "10"],
            "*2\r\n$3\r\ndst\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n",
        ),
        (&["LMPOP", "1", "dst", "RIGHT"], "*-1\r\n"),
        (&["LMPOP", "2", "nokey", "str", "LEFT"], WRONGTYPE),
        (
            &["LMPOP", "0", "a", "LEFT"],
            "-ERR numkeys should be greater than 0\r\n",
        ),
        (
            &["LMPOP", "x", "a", "LEFT"],
            "-ERR numkeys should be greater than 0\r\n",
        ),
        (&["LMPOP", "2", "a", "LEFT"], SYNTAX),
        (&["LMPOP", "1", "a", "MIDDLE"], SYNTAX),
        (
            &["LMPOP", "1", "a", "LEFT", "COUNT", "0"],
            "-ERR count should be greater than 0\r\n",
        ),
        (
            &["LMPOP", "1", "a", "LEFT", "COUNT", "x"],
            "-ERR count should be greater than 0\r\n",
        ),
        (
            &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "2"],
            SYNTAX,
        ),
        (&["LMPOP", "1", "a", "LEFT", "COUNT"], SYNTAX),
        (
            &["LMPOP", "1", "a"],
            "-ERR wrong number of arguments for 'lmpop' command\r\n",
        ),
    ]);
}

#[test]
fn wrongtype_everywhere() {
    let mut steps: Vec<(&[&str], &str)> = vec![(&["SET", "s", "v"], "+OK\r\n")];
    let cmds: &[&[&str]] = &[
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "a"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["RPOPLPUSH", "s", "d"],
        &["LMPOP", "1", "s", "LEFT"],
        &["BLPOP", "s", "0"],
        &["BRPOP", "nokey", "s", "0"],
        &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "s", "d", "0"],
        &["BLMPOP", "0", "1", "s", "LEFT"],
    ];
    for c in cmds {
        steps.push((c, WRONGTYPE));
    }
    steps.push((&["GET", "s"], "$1\r\nv\r\n"));
    script(&steps);
}

#[test]
fn integers_and_binary_values_round_trip() {
    let mut t = T::new();
    let vals = [
        "0",
        "-1",
        "127",
        "128",
        "4095",
        "-4096",
        "4096",
        "32767",
        "-32769",
        "8388607",
        "8388608",
        "2147483647",
        "-2147483649",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "007",
        "-0",
        "+5",
        "1.5",
        " 1",
        "",
        "a\r\nb\0c",
    ];
    let mut args = vec!["RPUSH", "l"];
    args.extend(vals.iter());
    t.r(&args);
    assert_eq!(t.r(&["LRANGE", "l", "0", "-1"]), arr(&vals));
    for (i, v) in vals.iter().enumerate() {
        assert_eq!(
            t.r(&["LINDEX", "l", &i.to_string()]),
            arr(&[v])[4..].to_string()
        );
        // LPOS finds integers and their look-alikes exactly.
        let want = vals.iter().position(|x| x == v).unwrap_or(i);
        assert_eq!(t.r(&["LPOS", "l", v]), format!(":{want}\r\n"), "LPOS {v:?}");
    }
    // Big values (several KB) too.
    let big = "x".repeat(70_000);
    t.r(&["LPUSH", "l", &big]);
    assert_eq!(
        t.r(&["LINDEX", "l", "0"]),
        format!("${}\r\n{}\r\n", big.len(), big)
    );
    assert_eq!(t.r(&["OBJECT", "ENCODING", "l"]), "$9\r\nquicklist\r\n");
}

#[test]
fn encodings_follow_list_max_listpack_size() {
    let mut t = T::new();
    t.r(&["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(t.r(&["OBJECT", "ENCODING", "l"]), "$8\r\nlistpack\r\n");
    // Count limit: positive values.
    t.r(&["CONFIG", "SET", "list-max-listpack-size", "4"]);
    t.r(&["RPUSH", "l", "d"]);
    assert_eq!(t.r(&["OBJECT", "ENCODING", "l"]), "$8\r\nlistpack\r\n");
    t.r(&["RPUSH", "l", "e"]);
    assert_eq!(t.r(&["OBJECT", "ENCODING", "l"]), "$9\r\nquicklist\r\n");
    // Back to a listpack only at half the limit.
    t.r(&["RPOP", "l", "2"]);
    assert_eq!(t.r(&["OBJECT", "ENCODING", "l"]), "$9\r\nquicklist\r\n");
    t.r(&["RPOP", "l"]);
    assert_eq!(t.r(&["OBJECT", "ENCODING", "l"]), "$8\r\nlistpack\r\n");
    // Size limits: -1 is 4 KB per node.
    t.r(&["CONFIG", "SET", "list-max-listpack-size", "-1"]);
    t.r(&["DEL", "l"]);
    let v = "v".repeat(1000);
    for _ in 0..4 {
        t.r(&["RPUSH", "l", &v]);
    }
    assert_eq!(t.r(&["OBJECT", "ENCODING", "l"]), "$8\r\nlistpack\r\n");
    t.r(&["RPUSH", "l", &v]);
    assert_eq!(t.r(&["OBJECT", "ENCODING", "l"]), "$9\r\nquicklist\r\n");
    // A big list with many nodes keeps working through every operation.
    t.r(&["CONFIG", "SET", "list-max-listpack-size", "3"]);
    t.r(&["DEL", "l"]);
    let nums: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let mut args = vec!["RPUSH".to_string(), "l".to_string()];
    args.extend(nums.iter().cloned());
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    t.r(&a);
    assert_eq!(t.r(&["LINDEX", "l", "50"]), "$2\r\n50\r\n");
    t.r(&["LSET", "l", "50", "fifty"]);
    t.r(&["LINSERT", "l", "AFTER", "fifty", "x"]);
    t.r(&["LREM", "l", "0", "7"]);
    t.r(&["LTRIM", "l", "10", "-10"]);
    let mut expect: Vec<String> = nums.clone();
    expect[50] = "fifty".into();
    expect.insert(51, "x".into());
    expect.retain(|x| x != "7");
    let n = expect.len();
    let expect: Vec<&str> = expect[10..n - 9].iter().map(|s| s.as_str()).collect();
    assert_eq!(t.r(&["LRANGE", "l", "0", "-1"]), arr(&expect));
}

#[test]
fn through_the_redis_crate() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let n: i64 = redis::cmd("RPUSH")
        .arg("k")
        .arg(&[1, 2, 3])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 3);
    let v: Vec<i64> = redis::cmd("LRANGE")
        .arg("k")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec![1, 2, 3]);
    let p: Option<String> = redis::cmd("LPOP").arg("k").query(&mut c).unwrap();
    assert_eq!(p.as_deref(), Some("1"));
    let p: Option<Vec<String>> = redis::cmd("RPOP")
        .arg("nokey")
        .arg(2)
        .query(&mut c)
        .unwrap();
    assert_eq!(p, None);
    let r: Option<(String, Vec<String>)> = redis::cmd("LMPOP")
        .arg(1)
        .arg("k")
        .arg("RIGHT")
        .arg("COUNT")
        .arg(5)
        .query(&mut c)
        .unwrap();
    assert_eq!(
        r,
        Some(("k".to_string(), vec!["3".to_string(), "2".to_string()]))
    );
    let e: redis::RedisResult<()> = redis::cmd("LSET").arg("k").arg(0).arg("x").query(&mut c);
    assert!(e.unwrap_err().to_string().contains("no such key"));
    let t: String = redis::cmd("TYPE").arg("k").query(&mut c).unwrap();
    assert_eq!(t, "none");
    let _: i64 = redis::cmd("LPUSH").arg("k").arg("a").query(&mut c).unwrap();
    let t: String = redis::cmd("TYPE").arg("k").query(&mut c).unwrap();
    assert_eq!(t, "list");
}

#[test]
fn command_table_entries() {
    let mut t = T::new();
    let info = |t: &mut T, name: &str| t.r(&["COMMAND", "INFO", name]);
    let lpush = info(&mut t, "lpush");
    assert!(lpush.starts_with("*1\r\n*10\r\n$5\r\nlpush\r\n:-3\r\n*3\r\n+write\r\n+denyoom\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"), "{lpush}");
    assert!(lpush.contains("+@list\r\n"));
    let blpop = info(&mut t, "blpop");
    assert!(
        blpop.contains("$5\r\nblpop\r\n:-3\r\n*2\r\n+write\r\n+blocking\r\n:1\r\n:-2\r\n:1\r\n"),
        "{blpop}"
    );
    assert!(blpop.contains("+@blocking\r\n"));
    let lmpop = info(&mut t, "lmpop");
    assert!(
        lmpop.contains(":-4\r\n*2\r\n+write\r\n+movablekeys\r\n:0\r\n:0\r\n:0\r\n"),
        "{lmpop}"
    );
    let lrange = info(&mut t, "lrange");
    assert!(
        lrange.contains(":4\r\n*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n"),
        "{lrange}"
    );
    let lmove = info(&mut t, "lmove");
    assert!(
        lmove.contains(":5\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:2\r\n:1\r\n"),
        "{lmove}"
    );
    for (c, arity) in [
        ("rpush", -3),
        ("lpushx", -3),
        ("rpushx", -3),
        ("lpop", -2),
        ("rpop", -2),
        ("llen", 2),
        ("lindex", 3),
        ("lset", 4),
        ("linsert", 5),
        ("lrem", 4),
        ("ltrim", 4),
        ("lpos", -3),
        ("rpoplpush", 3),
        ("brpop", -3),
        ("blmove", 6),
        ("brpoplpush", 4),
        ("blmpop", -5),
    ] {
        let r = info(&mut t, c);
        assert!(
            r.contains(&format!("${}\r\n{c}\r\n:{arity}\r\n", c.len())),
            "{c}: {r}"
        );
        assert!(r.contains("+@list\r\n"), "{c}");
    }
}

// ---------------------------------------------------------------------------
// Blocking.
// ---------------------------------------------------------------------------

fn blocked_clients(t: &mut T) -> usize {
    let info = t.r(&["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(usize::MAX)
}

fn wait_blocked(t: &mut T, n: usize) {
    let start = Instant::now();
    while blocked_clients(t) != n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never reached {n} blocked clients"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn fifo_wakeup_across_clients() {
    let mut t = T::new();
    let mut waiters: Vec<Raw> = Vec::new();
    for i in 0..3 {
        let mut c = t.s.raw();
        c.send(&["BLPOP", "q", "other", "0"]);
        wait_blocked(&mut t, i + 1);
        waiters.push(c);
    }
    // One push serves only the first waiter; the rest keep waiting.
    assert_eq!(t.r(&["RPUSH", "q", "one"]), ":1\r\n");
    assert_eq!(
        waiters[0].read_raw().unwrap().1,
        arr(&["q", "one"]).into_bytes()
    );
    wait_blocked(&mut t, 2);
    // Several elements at once: served in arrival order.
    assert_eq!(t.r(&["RPUSH", "other", "two", "three", "four"]), ":3\r\n");
    assert_eq!(
        waiters[1].read_raw().unwrap().1,
        arr(&["other", "two"]).into_bytes()
    );
    assert_eq!(
        waiters[2].read_raw().unwrap().1,
        arr(&["other", "three"]).into_bytes()
    );
    assert_eq!(t.r(&["LRANGE", "other", "0", "-1"]), arr(&["four"]));
    assert_eq!(blocked_clients(&mut t), 0);
    // BRPOP takes from the tail.
    let mut c = t.s.raw();
    c.send(&["BRPOP", "q", "0"]);
    wait_blocked(&mut t, 1);
    t.r(&["RPUSH", "q", "a", "b"]);
    assert_eq!(c.read_raw().unwrap().1, arr(&["q", "b"]).into_bytes());
}

/// Commands pipelined behind a blocking one wait for it, and their
/// replies follow its reply, on Redust as on redis-server.
#[test]
fn pipelined_commands_behind_a_blocked_one_reply_after_it() {
    let ours = Server::start(&[]);
    let theirs = have_redis().then(|| Server::start_redis(&[]));
    for s in std::iter::once(&ours).chain(theirs.as_ref()) {
        let mut pusher = s.raw();
        let mut waiter = s.raw();
        waiter.send_bytes(b"BLPOP l 0\r\nPING\r\nRPUSH l z\r\nLLEN l\r\n");
        let mut probe = s.raw();
        let start = Instant::now();
        while !String::from_utf8_lossy(&probe.call_raw(&["INFO", "clients"]))
            .contains("blocked_clients:1")
        {
            assert!(start.elapsed() < Duration::from_secs(10), "never blocked");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(pusher.call_raw(&["RPUSH", "l", "a"]), b":1\r\n");
        let mut got = Vec::new();
        for _ in 0..4 {
            got.extend_from_slice(&waiter.read_raw().unwrap().1);
        }
        let want = format!("{}+PONG\r\n:1\r\n:1\r\n", arr(&["l", "a"]));
        assert_eq!(String::from_utf8_lossy(&got), want);
    }
}

#[test]
fn timeouts_are_fractional_and_reply_null() {
    let mut t = T::new();
    for (cmd, reply) in [
        (vec!["BLPOP", "a", "b", "0.2"], "*-1\r\n"),
        (vec!["BRPOP", "a", "0.2"], "*-1\r\n"),
        (vec!["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.2"], "*-1\r\n"),
        (vec!["BRPOPLPUSH", "a", "b", "0.2"], "*-1\r\n"),
        (
            vec!["BLMPOP", "0.2", "2", "a", "b", "LEFT", "COUNT", "3"],
            "*-1\r\n",
        ),
    ] {
        let start = Instant::now();
        assert_eq!(t.r(&cmd), reply, "{cmd:?}");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(190) && took < Duration::from_secs(3),
            "{cmd:?} took {took:?}"
        );
    }
    // RESP3: a null.
    t.r(&["HELLO", "3"]);
    assert_eq!(t.r(&["BLPOP", "a", "0.05"]), "_\r\n");
    assert_eq!(t.r(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.05"]), "_\r\n");
    t.r(&["HELLO", "2"]);
    // Timeout errors.
    assert_eq!(t.r(&["BLPOP", "a", "-1"]), "-ERR timeout is negative\r\n");
    assert_eq!(
        t.r(&["BLPOP", "a", "x"]),
        "-ERR timeout is not a float or out of range\r\n"
    );
    assert_eq!(
        t.r(&["BLMPOP", "x", "0", "a", "LEFT"]),
        "-ERR numkeys should be greater than 0\r\n"
    );
    assert_eq!(t.r(&["BLMPOP", "x", "1", "a", "FOO"]), format!("{SYNTAX}"));
    assert_eq!(
        t.r(&["BLMPOP", "x", "1", "a", "LEFT"]),
        "-ERR timeout is not a float or out of range\r\n"
    );
    assert_eq!(t.r(&["BLMOVE", "a", "b", "UP", "LEFT", "x"]), SYNTAX);
    // Inside MULTI a blocking command does not block.
    t.r(&["MULTI"]);
    t.r(&["BLPOP", "a", "0"]);
    t.r(&["BLMOVE", "a", "b", "LEFT", "LEFT", "0"]);
    assert_eq!(t.r(&["EXEC"]), "*2\r\n*-1\r\n*-1\r\n");
    // A key with data answers at once, even with timeout 0.
    t.r(&["RPUSH", "a", "x"]);
    assert_eq!(
        t.r(&["BLMPOP", "0", "2", "nokey", "a", "RIGHT", "COUNT", "5"]),
        "*2\r\n$1\r\na\r\n*1\r\n$1\r\nx\r\n"
    );
}

#[test]
fn disconnected_waiter_leaves_nothing_behind() {
    let mut t = T::new();
    {
        let mut c = t.s.raw();
        c.send(&["BLPOP", "q", "0"]);
        let mut d = t.s.raw();
        d.send(&["BLMOVE", "q", "dst", "LEFT", "LEFT", "0"]);
        wait_blocked(&mut t, 2);
    } // both connections close here
    wait_blocked(&mut t, 0);
    assert_eq!(t.r(&["RPUSH", "q", "kept"]), ":1\r\n");
    assert_eq!(t.r(&["LRANGE", "q", "0", "-1"]), arr(&["kept"]));
    assert_eq!(t.r(&["EXISTS", "dst"]), ":0\r\n");
    // A later waiter is still served normally.
    let mut c = t.s.raw();
    c.send(&["BLPOP", "q2", "0"]);
    wait_blocked(&mut t, 1);
    t.r(&["LPUSH", "q2", "v"]);
    assert_eq!(c.read_raw().unwrap().1, arr(&["q2", "v"]).into_bytes());
}

#[test]
fn blmove_chain_and_moves_wake_waiters() {
    let mut t = T::new();
    // a -> b -> c -> (BLPOP): one push travels along the chain.
    let mut c1 = t.s.raw();
    c1.send(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut t, 1);
    let mut c2 = t.s.raw();
    c2.send(&["BRPOPLPUSH", "b", "c", "0"]);
    wait_blocked(&mut t, 2);
    let mut c3 = t.s.raw();
    c3.send(&["BLPOP", "c", "0"]);
    wait_blocked(&mut t, 3);
    assert_eq!(t.r(&["RPUSH", "a", "x"]), ":1\r\n");
    assert_eq!(c1.read_raw().unwrap().1, b"$1\r\nx\r\n");
    assert_eq!(c2.read_raw().unwrap().1, b"$1\r\nx\r\n");
    assert_eq!(c3.read_raw().unwrap().1, arr(&["c", "x"]).into_bytes());
    for k in ["a", "b", "c"] {
        assert_eq!(t.r(&["EXISTS", k]), ":0\r\n", "{k}");
    }
    // LMOVE / RPOPLPUSH into a list someone waits on wakes them.
    let mut w = t.s.raw();
    w.send(&["BLMPOP", "0", "1", "dst", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut t, 1);
    t.r(&["RPUSH", "src", "1", "2"]);
    assert_eq!(t.r(&["LMOVE", "src", "dst", "LEFT", "LEFT"]), "$1\r\n1\r\n");
    assert_eq!(
        w.read_raw().unwrap().1,
        b"*2\r\n$3\r\ndst\r\n*1\r\n$1\r\n1\r\n"
    );
    let mut w = t.s.raw();
    w.send(&["BRPOP", "dst", "0"]);
    wait_blocked(&mut t, 1);
    assert_eq!(t.r(&["RPOPLPUSH", "src", "dst"]), "$1\r\n2\r\n");
    assert_eq!(w.read_raw().unwrap().1, arr(&["dst", "2"]).into_bytes());
    // Pushes taken back inside the same transaction wake nobody.
    let mut w = t.s.raw();
    w.send(&["BLPOP", "m", "0"]);
    wait_blocked(&mut t, 1);
    t.r(&["MULTI"]);
    t.r(&["RPUSH", "m", "v"]);
    t.r(&["LPOP", "m"]);
    assert_eq!(t.r(&["EXEC"]), "*2\r\n:1\r\n$1\r\nv\r\n");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(blocked_clients(&mut t), 1);
    t.r(&["LPUSHX", "m", "no"]); // no list: nothing pushed, still blocked
    t.r(&["RPUSH", "m", "w"]);
    assert_eq!(w.read_raw().unwrap().1, arr(&["m", "w"]).into_bytes());
    // A waiter on a key served to somebody else first stays blocked and
    // times out with its own timeout.
    let mut w1 = t.s.raw();
    w1.send(&["BLPOP", "z", "0"]);
    wait_blocked(&mut t, 1);
    let mut w2 = t.s.raw();
    w2.send(&["BLPOP", "z", "0.3"]);
    wait_blocked(&mut t, 2);
    t.r(&["RPUSH", "z", "only"]);
    assert_eq!(w1.read_raw().unwrap().1, arr(&["z", "only"]).into_bytes());
    assert_eq!(w2.read_raw().unwrap().1, b"*-1\r\n");
}

#[test]
fn watch_sees_list_changes() {
    let mut t = T::new();
    let mut other = t.s.raw();
    for (setup, change) in [
        (vec!["RPUSH", "k", "a"], vec!["LPOP", "k"]),
        (vec!["RPUSH", "k", "a"], vec!["LMPOP", "1", "k", "LEFT"]),
        (vec!["RPUSH", "k", "a"], vec!["RPUSH", "k", "b"]),
        (
            vec!["RPUSH", "k", "a"],
            vec!["LMOVE", "k", "k2", "LEFT", "LEFT"],
        ),
    ] {
        t.r(&["DEL", "k", "k2"]);
        t.r(&setup);
        t.r(&["WATCH", "k"]);
        other.call_raw(&change);
        t.r(&["MULTI"]);
        t.r(&["PING"]);
        assert_eq!(t.r(&["EXEC"]), "*-1\r\n", "{change:?}");
    }
}

#[test]
fn sub_millisecond_timeouts_round_up_and_huge_ones_are_refused() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let t = std::time::Instant::now();
    assert_eq!(
        r.call(&["BLPOP", "nothing", "0.0001"]),
        redust::resp::reply::Frame::Array(None)
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(
        r.call(&["BLPOP", "nothing", "inf"]),
        err("ERR timeout is out of range")
    );
    assert_eq!(
        r.call(&["BLPOP", "nothing", "-1"]),
        err("ERR timeout is negative")
    );
    assert_eq!(
        r.call(&["BLPOP", "nothing", "x"]),
        err("ERR timeout is not a float or out of range")
    );
}
