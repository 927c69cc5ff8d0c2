//! Hash commands through the `redis` crate and raw RESP: every command and
//! option, errors, RESP3 shapes and listpack -> hashtable conversions.

mod common;

use common::*;
use redis::Commands;

fn r(raw: &mut Raw, args: &[&str]) -> String {
    String::from_utf8_lossy(&raw.call_raw(args)).into_owned()
}

#[test]
fn basic_commands() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let n: i64 = redis::cmd("HSET").arg("h").arg("a").arg("1").arg("b").arg("2").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let n: i64 = c.hset("h", "a", "10").unwrap();
    assert_eq!(n, 0);
    let v: String = c.hget("h", "a").unwrap();
    assert_eq!(v, "10");
    let v: Option<String> = c.hget("h", "zz").unwrap();
    assert_eq!(v, None);
    let v: Option<String> = c.hget("nokey", "a").unwrap();
    assert_eq!(v, None);
    let n: i64 = c.hset_nx("h", "a", "x").unwrap();
    assert_eq!(n, 0);
    let n: i64 = c.hset_nx("h", "c", "3").unwrap();
    assert_eq!(n, 1);
    let v: Vec<Option<String>> = redis::cmd("HMGET").arg("h").arg("a").arg("zz").arg("c").query(&mut c).unwrap();
    assert_eq!(v, vec![Some("10".into()), None, Some("3".into())]);
    let ok: String = redis::cmd("HMSET").arg("h").arg("d").arg("4").query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    let n: i64 = c.hlen("h").unwrap();
    assert_eq!(n, 4);
    let n: i64 = redis::cmd("HSTRLEN").arg("h").arg("a").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let n: i64 = redis::cmd("HSTRLEN").arg("h").arg("zz").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let b: bool = c.hexists("h", "d").unwrap();
    assert!(b);
    let b: bool = c.hexists("h", "zz").unwrap();
    assert!(!b);
    // Listpack order is insertion order.
    let k: Vec<String> = c.hkeys("h").unwrap();
    assert_eq!(k, vec!["a", "b", "c", "d"]);
    let v: Vec<String> = c.hvals("h").unwrap();
    assert_eq!(v, vec!["10", "2", "3", "4"]);
    let all: Vec<String> = redis::cmd("HGETALL").arg("h").query(&mut c).unwrap();
    assert_eq!(all, vec!["a", "10", "b", "2", "c", "3", "d", "4"]);
    let n: i64 = redis::cmd("HDEL").arg("h").arg("a").arg("a").arg("zz").arg("b").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let n: i64 = redis::cmd("HDEL").arg("h").arg("c").arg("d").query(&mut c).unwrap();
    assert_eq!(n, 2);
    // Empty hashes disappear.
    let e: bool = c.exists("h").unwrap();
    assert!(!e);
    let n: i64 = c.hlen("nokey").unwrap();
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("HDEL").arg("nokey").arg("a").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let k: Vec<String> = c.hkeys("nokey").unwrap();
    assert!(k.is_empty());
}

#[test]
fn incr_commands_and_errors() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    assert_eq!(r(&mut raw, &["HINCRBY", "h", "n", "5"]), ":5\r\n");
    assert_eq!(r(&mut raw, &["HINCRBY", "h", "n", "-7"]), ":-2\r\n");
    assert_eq!(r(&mut raw, &["HINCRBY", "h", "n", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(r(&mut raw, &["HSET", "h", "s", "abc", "big", "9223372036854775807", "sp", " 1"]), ":3\r\n");
    assert_eq!(r(&mut raw, &["HINCRBY", "h", "s", "1"]), "-ERR hash value is not an integer\r\n");
    assert_eq!(r(&mut raw, &["HINCRBY", "h", "sp", "1"]), "-ERR hash value is not an integer\r\n");
    assert_eq!(r(&mut raw, &["HINCRBY", "h", "big", "1"]), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(r(&mut raw, &["HINCRBYFLOAT", "h", "f", "1.5"]), "$3\r\n1.5\r\n");
    assert_eq!(r(&mut raw, &["HINCRBYFLOAT", "h", "f", "0.1"]), "$3\r\n1.6\r\n");
    assert_eq!(r(&mut raw, &["HINCRBYFLOAT", "h", "n", "5.0e3"]), "$4\r\n4998\r\n");
    assert_eq!(r(&mut raw, &["HINCRBYFLOAT", "h", "f", "x"]), "-ERR value is not a valid float\r\n");
    assert_eq!(r(&mut raw, &["HINCRBYFLOAT", "h", "f", "inf"]), "-ERR value is NaN or Infinity\r\n");
    assert_eq!(r(&mut raw, &["HINCRBYFLOAT", "h", "s", "1"]), "-ERR hash value is not a float\r\n");
    assert_eq!(r(&mut raw, &["HINCRBYFLOAT", "nokey", "f", "inf"]), "-ERR value is NaN or Infinity\r\n");
    // A failed increment does not leave an empty hash behind.
    assert_eq!(r(&mut raw, &["HINCRBY", "nokey", "f", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(r(&mut raw, &["EXISTS", "nokey"]), ":0\r\n");
    // Arity.
    assert_eq!(r(&mut raw, &["HSET", "h", "a"]), "-ERR wrong number of arguments for 'hset' command\r\n");
    assert_eq!(r(&mut raw, &["HSET", "h", "a", "1", "b"]), "-ERR wrong number of arguments for 'hset' command\r\n");
    assert_eq!(r(&mut raw, &["HMSET", "h", "a", "1", "b"]), "-ERR wrong number of arguments for 'hmset' command\r\n");
    assert_eq!(r(&mut raw, &["HMGET", "h"]), "-ERR wrong number of arguments for 'hmget' command\r\n");
    assert_eq!(r(&mut raw, &["HDEL", "h"]), "-ERR wrong number of arguments for 'hdel' command\r\n");
    assert_eq!(r(&mut raw, &["HGETALL"]), "-ERR wrong number of arguments for 'hgetall' command\r\n");
}

#[test]
fn wrongtype() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    r(&mut raw, &["SET", "str", "x"]);
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for cmd in [
        &["HSET", "str", "a", "1"][..],
        &["HSETNX", "str", "a", "1"],
        &["HMSET", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HDEL", "str", "a"],
        &["HLEN", "str"],
        &["HSTRLEN", "str", "a"],
        &["HEXISTS", "str", "a"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HGETALL", "str"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "1"],
        &["HSCAN", "str", "0"],
        &["HSCAN", "str", "0", "count", "0"],
    ] {
        assert_eq!(r(&mut raw, cmd), wt, "{cmd:?}");
    }
    // The hash commands leave the string alone.
    assert_eq!(r(&mut raw, &["GET", "str"]), "$1\r\nx\r\n");
}

#[test]
fn hrandfield_counts_and_shapes() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    assert_eq!(r(&mut raw, &["HRANDFIELD", "nokey"]), "$-1\r\n");
    assert_eq!(r(&mut raw, &["HRANDFIELD", "nokey", "5"]), "*0\r\n");
    assert_eq!(r(&mut raw, &["HRANDFIELD", "nokey", "-5", "WITHVALUES"]), "*0\r\n");
    r(&mut raw, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(r(&mut raw, &["HRANDFIELD", "h", "0"]), "*0\r\n");
    assert_eq!(r(&mut raw, &["HRANDFIELD", "h", "0", "withvalues"]), "*0\r\n");
    // Count >= size: the whole hash, in order.
    assert_eq!(
        r(&mut raw, &["HRANDFIELD", "h", "100", "withvalues"]),
        "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_eq!(r(&mut raw, &["HRANDFIELD", "h", "3"]), "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    // Distinct for positive counts.
    for _ in 0..50 {
        let f = raw.call(&["HRANDFIELD", "h", "2"]);
        let redust::resp::reply::Frame::Array(Some(v)) = f else { panic!() };
        assert_eq!(v.len(), 2);
        assert_ne!(v[0], v[1]);
    }
    // Negative: repetitions allowed, exact size.
    let f = raw.call(&["HRANDFIELD", "h", "-20", "WITHVALUES"]);
    let redust::resp::reply::Frame::Array(Some(v)) = f else { panic!() };
    assert_eq!(v.len(), 40);
    for p in v.chunks(2) {
        let (redust::resp::reply::Frame::Bulk(Some(f)), redust::resp::reply::Frame::Bulk(Some(val))) = (&p[0], &p[1]) else { panic!() };
        let want = match &f[..] { b"a" => "1", b"b" => "2", b"c" => "3", _ => panic!("bad field") };
        assert_eq!(val, want.as_bytes());
    }
    // Errors and their order.
    assert_eq!(r(&mut raw, &["HRANDFIELD", "h", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(r(&mut raw, &["HRANDFIELD", "h", "x", "foo"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(r(&mut raw, &["HRANDFIELD", "h", "1", "foo"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut raw, &["HRANDFIELD", "h", "1", "withvalues", "x"]), "-ERR syntax error\r\n");
    assert_eq!(
        r(&mut raw, &["HRANDFIELD", "h", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(r(&mut raw, &["HRANDFIELD", "h", "9223372036854775807", "withvalues"]), "-ERR value is out of range\r\n");
    assert_eq!(r(&mut raw, &["HRANDFIELD", "nokey", "-4611686018427387904", "withvalues"]), "-ERR value is out of range\r\n");
    assert_eq!(r(&mut raw, &["HRANDFIELD", "nokey", "4611686018427387903", "withvalues"]), "*0\r\n");
    // RESP3: WITHVALUES gives pairs.
    let mut r3 = s.raw();
    r3.call(&["HELLO", "3"]);
    assert_eq!(
        r(&mut r3, &["HRANDFIELD", "h", "5", "withvalues"]),
        "*3\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_eq!(r(&mut r3, &["HRANDFIELD", "nokey"]), "_\r\n");
    assert_eq!(r(&mut r3, &["HGETALL", "h"]), "%3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n");
    assert_eq!(r(&mut r3, &["HGETALL", "nokey"]), "%0\r\n");
    assert_eq!(r(&mut r3, &["HSCAN", "h", "0"]), "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n");
    // Big hash, all paths of the sampler.
    let mut args = vec!["HSET".to_string(), "big".into()];
    for i in 0..1000 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    raw.call(&args);
    for count in ["10", "500", "999", "1000", "5000", "-3000"] {
        let f = raw.call(&["HRANDFIELD", "big", count]);
        let redust::resp::reply::Frame::Array(Some(v)) = f else { panic!() };
        let n: i64 = count.parse().unwrap();
        assert_eq!(v.len() as i64, if n < 0 { -n } else { n.min(1000) });
        if n > 0 {
            let set: std::collections::HashSet<_> = v.iter().map(|x| format!("{x:?}")).collect();
            assert_eq!(set.len(), v.len());
        }
    }
}

#[test]
fn hscan_small_and_big() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    assert_eq!(r(&mut raw, &["HSCAN", "nokey", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    // Missing key: options are not even parsed.
    assert_eq!(r(&mut raw, &["HSCAN", "nokey", "0", "foo", "bar"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(r(&mut raw, &["HSCAN", "nokey", "x"]), "-ERR invalid cursor\r\n");
    r(&mut raw, &["HSET", "h", "a1", "1", "b1", "2", "a2", "3"]);
    // Small: everything at once, cursor 0, whatever the cursor and count.
    assert_eq!(
        r(&mut raw, &["HSCAN", "h", "0", "COUNT", "1"]),
        "*2\r\n$1\r\n0\r\n*6\r\n$2\r\na1\r\n$1\r\n1\r\n$2\r\nb1\r\n$1\r\n2\r\n$2\r\na2\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        r(&mut raw, &["HSCAN", "h", "77", "MATCH", "a*"]),
        "*2\r\n$1\r\n0\r\n*4\r\n$2\r\na1\r\n$1\r\n1\r\n$2\r\na2\r\n$1\r\n3\r\n"
    );
    assert_eq!(r(&mut raw, &["HSCAN", "h", "0", "COUNT", "0"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut raw, &["HSCAN", "h", "0", "COUNT", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(r(&mut raw, &["HSCAN", "h", "0", "MATCH"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut raw, &["HSCAN", "h", "0", "NOVALUES"]), "-ERR syntax error\r\n");
    // Big: a full iteration returns every field, with its value, at least once.
    let mut c = s.client();
    for i in 0..2000 {
        let _: () = c.hset("big", format!("field:{i}"), format!("v{i}")).unwrap();
    }
    let mut seen = std::collections::HashMap::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN").arg("big").arg(cursor).arg("COUNT").arg(50).query(&mut c).unwrap();
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        calls += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(calls > 10);
    assert_eq!(seen.len(), 2000);
    assert_eq!(seen["field:77"], "v77");
    let (_, items): (u64, Vec<String>) = redis::cmd("HSCAN").arg("big").arg(0).arg("MATCH").arg("field:1999").arg("COUNT").arg(100000).query(&mut c).unwrap();
    assert_eq!(items, vec!["field:1999", "v1999"]);
}

#[test]
fn encodings_and_thresholds() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    let enc = |raw: &mut Raw, k: &str| r(raw, &["OBJECT", "ENCODING", k]);
    // Entries threshold (default 512; lowered here).
    assert_eq!(r(&mut raw, &["CONFIG", "SET", "hash-max-listpack-entries", "4"]), "+OK\r\n");
    r(&mut raw, &["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_eq!(enc(&mut raw, "h"), "$8\r\nlistpack\r\n");
    r(&mut raw, &["HSET", "h", "e", "5"]);
    assert_eq!(enc(&mut raw, "h"), "$9\r\nhashtable\r\n");
    // Never goes back.
    r(&mut raw, &["HDEL", "h", "a", "b", "c", "d"]);
    assert_eq!(enc(&mut raw, "h"), "$9\r\nhashtable\r\n");
    // Repeated fields count once.
    r(&mut raw, &["HSET", "h2", "a", "1", "a", "2", "a", "3", "a", "4", "a", "5"]);
    assert_eq!(enc(&mut raw, "h2"), "$8\r\nlistpack\r\n");
    // Value threshold (default 64), for fields and values, HINCRBYFLOAT results too.
    r(&mut raw, &["CONFIG", "SET", "hash-max-listpack-entries", "512"]);
    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    r(&mut raw, &["HSET", "v", "a", &v64, &v64, "b"]);
    assert_eq!(enc(&mut raw, "v"), "$8\r\nlistpack\r\n");
    r(&mut raw, &["HSET", "v", "c", &v65]);
    assert_eq!(enc(&mut raw, "v"), "$9\r\nhashtable\r\n");
    r(&mut raw, &["HSET", "w", &v65, "1"]);
    assert_eq!(enc(&mut raw, "w"), "$9\r\nhashtable\r\n");
    r(&mut raw, &["HSET", "f", "n", "1"]);
    r(&mut raw, &["HINCRBYFLOAT", "f", "n", "1e100"]);
    assert_eq!(enc(&mut raw, "f"), "$9\r\nhashtable\r\n");
    // HSETNX on an existing field converts nothing.
    r(&mut raw, &["HSET", "nx", "a", "1"]);
    assert_eq!(r(&mut raw, &["HSETNX", "nx", "a", &v65]), ":0\r\n");
    assert_eq!(enc(&mut raw, "nx"), "$8\r\nlistpack\r\n");
    // The old ziplist names are aliases.
    assert_eq!(r(&mut raw, &["CONFIG", "SET", "hash-max-ziplist-value", "2"]), "+OK\r\n");
    r(&mut raw, &["HSET", "z", "abc", "1"]);
    assert_eq!(enc(&mut raw, "z"), "$9\r\nhashtable\r\n");
    // Default 512 entries.
    r(&mut raw, &["CONFIG", "SET", "hash-max-listpack-value", "64"]);
    let mut args = vec!["HSET".to_string(), "d".into()];
    for i in 0..512 {
        args.push(format!("f{i}"));
        args.push("v".into());
    }
    raw.call(&args);
    assert_eq!(enc(&mut raw, "d"), "$8\r\nlistpack\r\n");
    r(&mut raw, &["HSET", "d", "one-more", "v"]);
    assert_eq!(enc(&mut raw, "d"), "$9\r\nhashtable\r\n");
    assert_eq!(r(&mut raw, &["HLEN", "d"]), ":513\r\n");
    assert_eq!(r(&mut raw, &["HGET", "d", "f300"]), "$1\r\nv\r\n");
}

#[test]
fn command_table_entries() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    let info = r(&mut raw, &["COMMAND", "INFO", "hset"]);
    assert!(info.starts_with("*1\r\n*10\r\n$4\r\nhset\r\n:-4\r\n*3\r\n+write\r\n+denyoom\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"), "{info}");
    assert!(info.contains("@hash"));
    let info = r(&mut raw, &["COMMAND", "INFO", "hgetall"]);
    assert!(info.contains("*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n"), "{info}");
    assert!(info.contains("@slow"));
    let keys = r(&mut raw, &["COMMAND", "GETKEYS", "HSET", "k", "f", "v"]);
    assert_eq!(keys, "*1\r\n$1\r\nk\r\n");
}
