//! Set commands through the `redis` crate and raw RESP: every command and
//! option, errors, RESP3 shapes and intset -> listpack -> hashtable
//! conversions.

mod common;

use std::collections::HashSet;

use common::*;
use redis::Commands;
use redust::resp::reply::Frame;

fn r(raw: &mut Raw, args: &[&str]) -> String {
    String::from_utf8_lossy(&raw.call_raw(args)).into_owned()
}

fn members(f: Frame) -> Vec<String> {
    match f {
        Frame::Array(Some(v)) | Frame::Set(v) => v
            .into_iter()
            .map(|x| match x {
                Frame::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
                o => panic!("{o:?}"),
            })
            .collect(),
        o => panic!("{o:?}"),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn basic_commands() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let n: i64 = redis::cmd("SADD").arg("s").arg("3").arg("1").arg("2").arg("1").query(&mut c).unwrap();
    assert_eq!(n, 3);
    // Intset: sorted.
    let m: Vec<String> = c.smembers("s").unwrap();
    assert_eq!(m, vec!["1", "2", "3"]);
    let n: i64 = c.scard("s").unwrap();
    assert_eq!(n, 3);
    let b: bool = c.sismember("s", "2").unwrap();
    assert!(b);
    let b: bool = c.sismember("s", "02").unwrap();
    assert!(!b);
    let v: Vec<i64> = redis::cmd("SMISMEMBER").arg("s").arg("1").arg("9").arg("3").query(&mut c).unwrap();
    assert_eq!(v, vec![1, 0, 1]);
    let v: Vec<i64> = redis::cmd("SMISMEMBER").arg("nokey").arg("1").arg("9").query(&mut c).unwrap();
    assert_eq!(v, vec![0, 0]);
    let n: i64 = redis::cmd("SREM").arg("s").arg("1").arg("1").arg("x").query(&mut c).unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("SREM").arg("s").arg("2").arg("3").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let e: bool = c.exists("s").unwrap();
    assert!(!e, "empty sets disappear");
    let n: i64 = c.scard("nokey").unwrap();
    assert_eq!(n, 0);
    let m: Vec<String> = c.smembers("nokey").unwrap();
    assert!(m.is_empty());
    // Listpack: insertion order.
    let _: i64 = redis::cmd("SADD").arg("l").arg("b").arg("a").arg("10").arg("c").query(&mut c).unwrap();
    let m: Vec<String> = c.smembers("l").unwrap();
    assert_eq!(m, vec!["b", "a", "10", "c"]);
}

#[test]
fn smove() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    r(&mut raw, &["SADD", "a", "1", "2"]);
    r(&mut raw, &["SET", "str", "x"]);
    assert_eq!(r(&mut raw, &["SMOVE", "nokey", "str", "1"]), ":0\r\n");
    assert_eq!(r(&mut raw, &["SMOVE", "a", "str", "9"]), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(r(&mut raw, &["SMOVE", "str", "a", "1"]), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(r(&mut raw, &["SMOVE", "a", "a", "1"]), ":1\r\n");
    assert_eq!(r(&mut raw, &["SMOVE", "a", "a", "9"]), ":0\r\n");
    assert_eq!(r(&mut raw, &["SMOVE", "a", "b", "9"]), ":0\r\n");
    assert_eq!(r(&mut raw, &["SMOVE", "a", "b", "1"]), ":1\r\n");
    assert_eq!(r(&mut raw, &["OBJECT", "ENCODING", "b"]), "$6\r\nintset\r\n");
    assert_eq!(r(&mut raw, &["SMOVE", "a", "b", "2"]), ":1\r\n");
    assert_eq!(r(&mut raw, &["EXISTS", "a"]), ":0\r\n");
    assert_eq!(r(&mut raw, &["SMEMBERS", "b"]), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r(&mut raw, &["SADD", "c", "x"]);
    assert_eq!(r(&mut raw, &["SMOVE", "c", "b", "x"]), ":1\r\n");
    assert_eq!(r(&mut raw, &["OBJECT", "ENCODING", "b"]), "$8\r\nlistpack\r\n");
}

#[test]
fn algebra() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    r(&mut raw, &["SADD", "a", "1", "2", "3", "4"]);
    r(&mut raw, &["SADD", "b", "3", "4", "5"]);
    r(&mut raw, &["SADD", "c", "4", "x"]);
    r(&mut raw, &["SET", "str", "x"]);
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    assert_eq!(r(&mut raw, &["SINTER", "a", "b"]), "*2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    assert_eq!(r(&mut raw, &["SINTER", "a", "b", "c"]), "*1\r\n$1\r\n4\r\n");
    assert_eq!(r(&mut raw, &["SINTER", "a", "nokey"]), "*0\r\n");
    assert_eq!(r(&mut raw, &["SINTER", "nokey", "str"]), wt);
    assert_eq!(r(&mut raw, &["SUNION", "a", "b"]), "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
    assert_eq!(r(&mut raw, &["SUNION", "nokey", "str"]), wt);
    assert_eq!(sorted(members(raw.call(&["SUNION", "a", "c", "nokey"]))), vec!["1", "2", "3", "4", "x"]);
    assert_eq!(r(&mut raw, &["SDIFF", "a", "b"]), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(r(&mut raw, &["SDIFF", "a", "nokey", "c"]), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    assert_eq!(r(&mut raw, &["SDIFF", "nokey", "a"]), "*0\r\n");
    assert_eq!(r(&mut raw, &["SDIFF", "a", "str"]), wt);
    // Stores.
    assert_eq!(r(&mut raw, &["SINTERSTORE", "d", "a", "b"]), ":2\r\n");
    assert_eq!(r(&mut raw, &["SMEMBERS", "d"]), "*2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    assert_eq!(r(&mut raw, &["OBJECT", "ENCODING", "d"]), "$6\r\nintset\r\n");
    assert_eq!(r(&mut raw, &["SUNIONSTORE", "str2", "a", "c"]), ":5\r\n");
    assert_eq!(r(&mut raw, &["OBJECT", "ENCODING", "str2"]), "$8\r\nlistpack\r\n");
    assert_eq!(r(&mut raw, &["SDIFFSTORE", "d", "a", "b"]), ":2\r\n");
    assert_eq!(r(&mut raw, &["SMEMBERS", "d"]), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    // Store overwrites any type and drops the TTL; an empty result deletes.
    r(&mut raw, &["SET", "o", "x", "EX", "100"]);
    assert_eq!(r(&mut raw, &["SUNIONSTORE", "o", "a"]), ":4\r\n");
    assert_eq!(r(&mut raw, &["TTL", "o"]), ":-1\r\n");
    assert_eq!(r(&mut raw, &["SINTERSTORE", "o", "a", "nokey"]), ":0\r\n");
    assert_eq!(r(&mut raw, &["EXISTS", "o"]), ":0\r\n");
    assert_eq!(r(&mut raw, &["SDIFFSTORE", "d", "a", "a"]), ":0\r\n");
    assert_eq!(r(&mut raw, &["EXISTS", "d"]), ":0\r\n");
    assert_eq!(r(&mut raw, &["SINTERSTORE", "d", "nokey", "str"]), wt);
    // SINTERCARD.
    assert_eq!(r(&mut raw, &["SINTERCARD", "2", "a", "b"]), ":2\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "2", "a", "b", "LIMIT", "1"]), ":1\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "2", "a", "b", "limit", "0"]), ":2\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "1", "a", "LIMIT", "5", "LIMIT", "2"]), ":2\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "2", "a", "nokey"]), ":0\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "2", "nokey", "str"]), wt);
    assert_eq!(r(&mut raw, &["SINTERCARD", "0", "a"]), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "x", "a"]), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "3", "a"]), "-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "1", "a", "LIMIT", "-1"]), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "1", "a", "LIMIT", "x"]), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "1", "a", "LIMIT"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut raw, &["SINTERCARD", "1", "a", "foo", "1"]), "-ERR syntax error\r\n");
    // RESP3: set replies.
    let mut r3 = s.raw();
    r3.call(&["HELLO", "3"]);
    assert_eq!(r(&mut r3, &["SINTER", "a", "b"]), "~2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    assert_eq!(r(&mut r3, &["SMEMBERS", "nokey"]), "~0\r\n");
    assert_eq!(r(&mut r3, &["SDIFF", "a", "b"]), "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(r(&mut r3, &["SMISMEMBER", "a", "1", "x"]), "*2\r\n:1\r\n:0\r\n");
}

#[test]
fn random_and_pop() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    assert_eq!(r(&mut raw, &["SRANDMEMBER", "nokey"]), "$-1\r\n");
    assert_eq!(r(&mut raw, &["SRANDMEMBER", "nokey", "3"]), "*0\r\n");
    assert_eq!(r(&mut raw, &["SPOP", "nokey"]), "$-1\r\n");
    assert_eq!(r(&mut raw, &["SPOP", "nokey", "3"]), "*0\r\n");
    assert_eq!(r(&mut raw, &["SPOP", "nokey", "-1"]), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(r(&mut raw, &["SPOP", "nokey", "x"]), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(r(&mut raw, &["SPOP", "nokey", "1", "2"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut raw, &["SRANDMEMBER", "nokey", "1", "2"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut raw, &["SRANDMEMBER", "nokey", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(
        r(&mut raw, &["SRANDMEMBER", "nokey", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    r(&mut raw, &["SADD", "s", "1", "2", "3", "4", "5"]);
    assert_eq!(r(&mut raw, &["SRANDMEMBER", "s", "0"]), "*0\r\n");
    assert_eq!(r(&mut raw, &["SRANDMEMBER", "s", "10"]), "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
    let all: HashSet<String> = ["1", "2", "3", "4", "5"].iter().map(|s| s.to_string()).collect();
    for _ in 0..30 {
        let v = members(raw.call(&["SRANDMEMBER", "s", "3"]));
        let d: HashSet<String> = v.iter().cloned().collect();
        assert_eq!(d.len(), 3);
        assert!(d.is_subset(&all));
        let v = members(raw.call(&["SRANDMEMBER", "s", "-8"]));
        assert_eq!(v.len(), 8);
        assert!(v.iter().all(|m| all.contains(m)));
    }
    assert_eq!(r(&mut raw, &["SPOP", "s", "0"]), "*0\r\n");
    let p = members(raw.call(&["SPOP", "s", "2"]));
    assert_eq!(p.len(), 2);
    assert_eq!(r(&mut raw, &["SCARD", "s"]), ":3\r\n");
    let p1 = members(raw.call(&["SPOP", "s"].map(|x| x)).into_array());
    assert_eq!(p1.len(), 1);
    let rest = members(raw.call(&["SPOP", "s", "100"]));
    assert_eq!(rest.len(), 2);
    assert_eq!(r(&mut raw, &["EXISTS", "s"]), ":0\r\n");
    // RESP3: SPOP with a count replies a set, SRANDMEMBER an array.
    let mut r3 = s.raw();
    r3.call(&["HELLO", "3"]);
    r(&mut r3, &["SADD", "t", "7"]);
    assert_eq!(r(&mut r3, &["SRANDMEMBER", "t", "5"]), "*1\r\n$1\r\n7\r\n");
    assert_eq!(r(&mut r3, &["SPOP", "nokey", "2"]), "~0\r\n");
    assert_eq!(r(&mut r3, &["SPOP", "t", "5"]), "~1\r\n$1\r\n7\r\n");
    // Big sets: hashtable paths of the samplers and SPOP.
    let mut c = s.client();
    let items: Vec<String> = (0..3000).map(|i| format!("m{i}")).collect();
    let _: i64 = c.sadd("big", &items).unwrap();
    for count in [5, 1500, 2999] {
        let v: Vec<String> = c.srandmember_multiple("big", count).unwrap();
        let d: HashSet<&String> = v.iter().collect();
        assert_eq!(d.len(), count);
    }
    let v: Vec<String> = redis::cmd("SPOP").arg("big").arg(2990).query(&mut c).unwrap();
    assert_eq!(v.iter().collect::<HashSet<_>>().len(), 2990);
    let n: i64 = c.scard("big").unwrap();
    assert_eq!(n, 10);
    for _ in 0..10 {
        let _: String = c.spop("big").unwrap();
    }
    let e: bool = c.exists("big").unwrap();
    assert!(!e);
}

trait IntoArray {
    fn into_array(self) -> Frame;
}

impl IntoArray for Frame {
    fn into_array(self) -> Frame {
        match self {
            Frame::Bulk(b) => Frame::Array(Some(vec![Frame::Bulk(b)])),
            f => f,
        }
    }
}

#[test]
fn wrongtype_and_arity() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    r(&mut raw, &["SET", "str", "x"]);
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for cmd in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SCARD", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SMEMBERS", "str"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SPOP", "str"],
        &["SPOP", "str", "0"],
        &["SINTER", "str"],
        &["SUNION", "str"],
        &["SDIFF", "str"],
        &["SSCAN", "str", "0"],
        &["SSCAN", "str", "0", "count", "0"],
    ] {
        assert_eq!(r(&mut raw, cmd), wt, "{cmd:?}");
    }
    for (cmd, name) in [
        (&["SADD", "s"][..], "sadd"),
        (&["SREM", "s"], "srem"),
        (&["SMISMEMBER", "s"], "smismember"),
        (&["SINTERCARD", "1"], "sintercard"),
        (&["SINTERSTORE", "d"], "sinterstore"),
        (&["SMOVE", "a", "b"], "smove"),
        (&["SSCAN", "s"], "sscan"),
    ] {
        assert_eq!(r(&mut raw, cmd), format!("-ERR wrong number of arguments for '{name}' command\r\n"));
    }
}

#[test]
fn sscan() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    assert_eq!(r(&mut raw, &["SSCAN", "nokey", "0", "bad", "opts"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(r(&mut raw, &["SSCAN", "nokey", "18446744073709551616"]), "-ERR invalid cursor\r\n");
    r(&mut raw, &["SADD", "s", "10", "2", "30"]);
    assert_eq!(r(&mut raw, &["SSCAN", "s", "-1", "COUNT", "1"]), "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n2\r\n$2\r\n10\r\n$2\r\n30\r\n");
    assert_eq!(r(&mut raw, &["SSCAN", "s", "0", "MATCH", "*0"]), "*2\r\n$1\r\n0\r\n*2\r\n$2\r\n10\r\n$2\r\n30\r\n");
    assert_eq!(r(&mut raw, &["SSCAN", "s", "0", "COUNT", "0"]), "-ERR syntax error\r\n");
    let mut c = s.client();
    let items: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
    let _: i64 = c.sadd("big", &items).unwrap();
    assert_eq!(r(&mut raw, &["OBJECT", "ENCODING", "big"]), "$9\r\nhashtable\r\n");
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, v): (u64, Vec<String>) = redis::cmd("SSCAN").arg("big").arg(cursor).arg("COUNT").arg(100).query(&mut c).unwrap();
        seen.extend(v);
        // Mutations during the scan must not hide members present throughout.
        let _: i64 = c.sadd("big", format!("extra{next}")).unwrap();
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for i in 0..5000 {
        assert!(seen.contains(&i.to_string()), "missed {i}");
    }
}

#[test]
fn encodings_and_thresholds() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    let enc = |raw: &mut Raw, k: &str| r(raw, &["OBJECT", "ENCODING", k]);
    // Intset up to set-max-intset-entries (512), then hashtable.
    let ints: Vec<String> = (0..512).map(|i| i.to_string()).collect();
    let mut args = vec!["SADD".to_string(), "i".into()];
    args.extend(ints.iter().cloned());
    raw.call(&args);
    assert_eq!(enc(&mut raw, "i"), "$6\r\nintset\r\n");
    r(&mut raw, &["SADD", "i", "512"]);
    assert_eq!(enc(&mut raw, "i"), "$9\r\nhashtable\r\n");
    r(&mut raw, &["SREM", "i", "5"]);
    assert_eq!(enc(&mut raw, "i"), "$9\r\nhashtable\r\n");
    // A non-integer turns a small intset into a listpack (Redis 7.2).
    r(&mut raw, &["SADD", "l", "1", "2"]);
    r(&mut raw, &["SADD", "l", "x"]);
    assert_eq!(enc(&mut raw, "l"), "$8\r\nlistpack\r\n");
    assert_eq!(r(&mut raw, &["SMEMBERS", "l"]), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\nx\r\n");
    // Integers stay in the listpack.
    r(&mut raw, &["SADD", "l", "3"]);
    assert_eq!(enc(&mut raw, "l"), "$8\r\nlistpack\r\n");
    // Listpack up to set-max-listpack-entries (128) / -value (64).
    let mut args = vec!["SADD".to_string(), "p".into()];
    args.extend((0..128).map(|i| format!("m{i}")));
    raw.call(&args);
    assert_eq!(enc(&mut raw, "p"), "$8\r\nlistpack\r\n");
    r(&mut raw, &["SADD", "p", "m128"]);
    assert_eq!(enc(&mut raw, "p"), "$9\r\nhashtable\r\n");
    r(&mut raw, &["SADD", "v", "a", &"x".repeat(64)]);
    assert_eq!(enc(&mut raw, "v"), "$8\r\nlistpack\r\n");
    r(&mut raw, &["SADD", "v", &"x".repeat(65)]);
    assert_eq!(enc(&mut raw, "v"), "$9\r\nhashtable\r\n");
    // A big intset meeting a string goes to a hashtable directly.
    let mut args = vec!["SADD".to_string(), "bi".into()];
    args.extend((0..200).map(|i| i.to_string()));
    raw.call(&args);
    assert_eq!(enc(&mut raw, "bi"), "$6\r\nintset\r\n");
    r(&mut raw, &["SADD", "bi", "x"]);
    assert_eq!(enc(&mut raw, "bi"), "$9\r\nhashtable\r\n");
    // The encoding is chosen from the number of arguments when created.
    let mut args = vec!["SADD".to_string(), "h".into()];
    args.extend((0..129).map(|_| "same".to_string()));
    raw.call(&args);
    assert_eq!(enc(&mut raw, "h"), "$9\r\nhashtable\r\n");
    // Non-canonical integers are strings.
    r(&mut raw, &["SADD", "nc", "007"]);
    assert_eq!(enc(&mut raw, "nc"), "$8\r\nlistpack\r\n");
    // CONFIG SET of the thresholds.
    assert_eq!(r(&mut raw, &["CONFIG", "SET", "set-max-intset-entries", "2"]), "+OK\r\n");
    assert_eq!(r(&mut raw, &["CONFIG", "SET", "set-max-listpack-entries", "3"]), "+OK\r\n");
    assert_eq!(r(&mut raw, &["CONFIG", "SET", "set-max-listpack-value", "4"]), "+OK\r\n");
    r(&mut raw, &["SADD", "c1", "1", "2"]);
    assert_eq!(enc(&mut raw, "c1"), "$6\r\nintset\r\n");
    r(&mut raw, &["SADD", "c1", "3"]);
    assert_eq!(enc(&mut raw, "c1"), "$9\r\nhashtable\r\n");
    r(&mut raw, &["SADD", "c2", "a", "b", "c"]);
    assert_eq!(enc(&mut raw, "c2"), "$8\r\nlistpack\r\n");
    r(&mut raw, &["SADD", "c2", "d"]);
    assert_eq!(enc(&mut raw, "c2"), "$9\r\nhashtable\r\n");
    r(&mut raw, &["SADD", "c3", "abcde"]);
    assert_eq!(enc(&mut raw, "c3"), "$9\r\nhashtable\r\n");
    // Intset widths: all values round-trip.
    r(&mut raw, &["CONFIG", "SET", "set-max-intset-entries", "512"]);
    r(&mut raw, &["SADD", "w", "1", "-70000", "9223372036854775807", "-9223372036854775808", "300"]);
    assert_eq!(enc(&mut raw, "w"), "$6\r\nintset\r\n");
    assert_eq!(
        members(raw.call(&["SMEMBERS", "w"])),
        vec!["-9223372036854775808", "-70000", "1", "300", "9223372036854775807"]
    );
}

#[test]
fn command_table_entries() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    let info = r(&mut raw, &["COMMAND", "INFO", "sintercard"]);
    assert!(info.contains("+readonly\r\n+movablekeys\r\n:0\r\n:0\r\n:0\r\n"), "{info}");
    let info = r(&mut raw, &["COMMAND", "INFO", "smove"]);
    assert!(info.contains(":1\r\n:2\r\n:1\r\n"), "{info}");
    let info = r(&mut raw, &["COMMAND", "INFO", "sunionstore"]);
    assert!(info.contains("+write\r\n+denyoom\r\n:1\r\n:-1\r\n:1\r\n"), "{info}");
    assert_eq!(r(&mut raw, &["COMMAND", "GETKEYS", "SMOVE", "a", "b", "m"]), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
}
