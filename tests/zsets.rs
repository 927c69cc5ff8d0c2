//! Integration tests for the sorted set commands: exact reply bytes over raw
//! RESP (RESP2 and RESP3), errors, encodings, blocking pops. Expected
//! values were taken from redis-server 7.0 (and the Redis 7.2 docs for
//! ZRANK/ZREVRANK WITHSCORE).

mod common;

use std::time::{Duration, Instant};

use common::*;

fn r(raw: &mut Raw, args: &[&str]) -> String {
    String::from_utf8_lossy(&raw.call_raw(args)).into_owned()
}

#[test]
fn zadd_options_and_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(r(&mut c, &["ZADD", "z", "1", "a", "2", "b"]), ":2\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "NX", "5", "a", "3", "c"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZSCORE", "z", "a"]), "$1\r\n1\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "XX", "CH", "5", "a", "9", "new"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZSCORE", "z", "new"]), "$-1\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "GT", "CH", "4", "a", "6", "b"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "LT", "CH", "4", "a", "7", "b"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]), "*6\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\na\r\n$1\r\n4\r\n$1\r\nb\r\n$1\r\n6\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "INCR", "1.5", "a"]), "$3\r\n5.5\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "NX", "INCR", "1", "a"]), "$-1\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "GT", "INCR", "-1", "a"]), "$-1\r\n");
    assert_eq!(r(&mut c, &["ZADD", "nokey", "XX", "1", "a"]), ":0\r\n");
    assert_eq!(r(&mut c, &["ZADD", "nokey", "XX", "INCR", "1", "a"]), "$-1\r\n");
    assert_eq!(r(&mut c, &["EXISTS", "nokey"]), ":0\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"]), "-ERR XX and NX options at the same time are not compatible\r\n");
    for o in [["GT", "LT"], ["NX", "GT"], ["LT", "NX"]] {
        assert_eq!(r(&mut c, &["ZADD", "z", o[0], o[1], "1", "a"]), "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n");
    }
    assert_eq!(r(&mut c, &["ZADD", "z", "INCR", "1", "a", "2", "b"]), "-ERR INCR option supports a single increment-element pair\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "1", "a", "2"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "x", "a"]), "-ERR value is not a valid float\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "nan", "a"]), "-ERR value is not a valid float\r\n");
    assert_eq!(r(&mut c, &["ZADD", "z", "1"]), "-ERR wrong number of arguments for 'zadd' command\r\n");
    assert_eq!(r(&mut c, &["ZADD", "inf", "inf", "a"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZINCRBY", "inf", "-inf", "a"]), "-ERR resulting score is not a number (NaN)\r\n");
    assert_eq!(r(&mut c, &["ZADD", "inf", "INCR", "-inf", "a"]), "-ERR resulting score is not a number (NaN)\r\n");
    assert_eq!(r(&mut c, &["ZINCRBY", "inf", "x", "a"]), "-ERR value is not a valid float\r\n");
    assert_eq!(r(&mut c, &["ZINCRBY", "fresh", "2.5", "m"]), "$3\r\n2.5\r\n");
    assert_eq!(r(&mut c, &["ZINCRBY", "fresh", "0.1", "m"]), "$3\r\n2.6000000000000001\r\n".replace("$3", "$18"));
    // WRONGTYPE
    r(&mut c, &["SET", "str", "v"]);
    for cmd in [
        vec!["ZADD", "str", "1", "a"],
        vec!["ZSCORE", "str", "a"],
        vec!["ZRANGE", "str", "0", "-1"],
        vec!["ZCARD", "str"],
        vec!["ZPOPMIN", "str"],
        vec!["ZUNION", "1", "str"],
        vec!["ZRANDMEMBER", "str"],
        vec!["ZSCAN", "str", "0"],
        vec!["BZPOPMIN", "str", "0"],
    ] {
        assert_eq!(r(&mut c, &cmd), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "{cmd:?}");
    }
}

#[test]
fn ranges_by_rank_score_and_lex() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    r(&mut c, &["ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d", "-inf", "lo", "inf", "hi"]);
    // Ties ordered by member bytes; infinities.
    assert_eq!(r(&mut c, &["ZRANGE", "z", "0", "-1"]), "*6\r\n$2\r\nlo\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$2\r\nhi\r\n");
    assert_eq!(r(&mut c, &["ZREVRANGE", "z", "0", "1", "WITHSCORES"]), "*4\r\n$2\r\nhi\r\n$3\r\ninf\r\n$1\r\nd\r\n$1\r\n3\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "z", "-2", "100"]), "*2\r\n$1\r\nd\r\n$2\r\nhi\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "z", "5", "1"]), "*0\r\n");
    assert_eq!(r(&mut c, &["ZRANGEBYSCORE", "z", "(1", "3"]), "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n");
    assert_eq!(r(&mut c, &["ZRANGEBYSCORE", "z", "-inf", "(-inf"]), "*0\r\n");
    assert_eq!(r(&mut c, &["ZRANGEBYSCORE", "z", "-inf", "-inf"]), "*1\r\n$2\r\nlo\r\n");
    assert_eq!(r(&mut c, &["ZREVRANGEBYSCORE", "z", "2", "1", "LIMIT", "1", "5"]), "*2\r\n$1\r\nb\r\n$1\r\na\r\n");
    // REV with BYSCORE takes max first.
    assert_eq!(r(&mut c, &["ZRANGE", "z", "3", "2", "BYSCORE", "REV"]), "*3\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "z", "2", "3", "BYSCORE", "REV"]), "*0\r\n");
    // LIMIT with negative count means all, negative offset nothing.
    assert_eq!(r(&mut c, &["ZRANGE", "z", "1", "+inf", "BYSCORE", "LIMIT", "1", "-1"]), "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$2\r\nhi\r\n");
    assert_eq!(r(&mut c, &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2"]), "*0\r\n");
    assert_eq!(r(&mut c, &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "0"]), "*0\r\n");
    assert_eq!(r(&mut c, &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "9223372036854775807", "2"]), "*0\r\n");
    assert_eq!(r(&mut c, &["ZCOUNT", "z", "(1", "(3"]), ":2\r\n");
    assert_eq!(r(&mut c, &["ZCOUNT", "z", "-inf", "+inf"]), ":6\r\n");
    assert_eq!(r(&mut c, &["ZCOUNT", "z", "x", "1"]), "-ERR min or max is not a float\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "z", "0", "-1", "LIMIT", "1", "2"]), "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "z", "0", "-1", "BYSCORE", "BYLEX"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZRANGEBYSCORE", "z", "0", "1", "REV"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "z", "x", "1"]), "-ERR value is not an integer or out of range\r\n");
    // Lex ranges (equal scores).
    r(&mut c, &["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"]);
    assert_eq!(r(&mut c, &["ZRANGEBYLEX", "l", "[b", "(d"]), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(r(&mut c, &["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "3", "-1"]), "*2\r\n$1\r\nd\r\n$1\r\ne\r\n");
    assert_eq!(r(&mut c, &["ZREVRANGEBYLEX", "l", "(d", "-"]), "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "l", "[d", "[b", "BYLEX", "REV"]), "*3\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "l", "+", "-", "BYLEX"]), "*0\r\n");
    assert_eq!(r(&mut c, &["ZLEXCOUNT", "l", "(a", "[c"]), ":2\r\n");
    assert_eq!(r(&mut c, &["ZLEXCOUNT", "l", "a", "[c"]), "-ERR min or max not valid string range item\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "l", "[a", "[b", "BYLEX", "WITHSCORES"]), "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "missing", "0", "-1"]), "*0\r\n");
    // RESP3: pairs and doubles.
    r(&mut c, &["HELLO", "3"]);
    assert_eq!(r(&mut c, &["ZRANGE", "z", "0", "1", "WITHSCORES"]), "*2\r\n*2\r\n$2\r\nlo\r\n,-inf\r\n*2\r\n$1\r\na\r\n,1\r\n");
    assert_eq!(r(&mut c, &["ZSCORE", "z", "b"]), ",2\r\n");
    assert_eq!(r(&mut c, &["ZSCORE", "z", "nope"]), "_\r\n");
}

#[test]
fn rank_score_mscore_card_rem() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    r(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(r(&mut c, &["ZRANK", "z", "b"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZREVRANK", "z", "b", "WITHSCORE"]), "*2\r\n:1\r\n$1\r\n2\r\n");
    assert_eq!(r(&mut c, &["ZRANK", "z", "nope", "WITHSCORE"]), "*-1\r\n");
    assert_eq!(r(&mut c, &["ZRANK", "z", "nope"]), "$-1\r\n");
    assert_eq!(r(&mut c, &["ZRANK", "z", "a", "WITHSCORES"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZRANK", "z", "a", "WITHSCORE", "x"]), "-ERR wrong number of arguments for 'zrank' command\r\n");
    assert_eq!(r(&mut c, &["ZMSCORE", "z", "a", "nope", "c"]), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n");
    assert_eq!(r(&mut c, &["ZMSCORE", "missing", "a"]), "*1\r\n$-1\r\n");
    assert_eq!(r(&mut c, &["ZCARD", "z"]), ":3\r\n");
    assert_eq!(r(&mut c, &["ZREM", "z", "a", "a", "nope"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZREM", "z", "b", "c"]), ":2\r\n");
    assert_eq!(r(&mut c, &["EXISTS", "z"]), ":0\r\n");
    assert_eq!(r(&mut c, &["ZCARD", "z"]), ":0\r\n");
    // Removals by range delete empty keys.
    r(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]);
    assert_eq!(r(&mut c, &["ZREMRANGEBYRANK", "z", "-1", "-1"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZREMRANGEBYSCORE", "z", "(1", "2"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZREMRANGEBYLEX", "z", "-", "+"]), ":2\r\n");
    assert_eq!(r(&mut c, &["EXISTS", "z"]), ":0\r\n");
    assert_eq!(r(&mut c, &["ZREMRANGEBYRANK", "z", "a", "1"]), "-ERR value is not an integer or out of range\r\n");
}

#[test]
fn pops_and_mpop() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    r(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]);
    assert_eq!(r(&mut c, &["ZPOPMIN", "z"]), "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(r(&mut c, &["ZPOPMAX", "z", "2"]), "*4\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nc\r\n$1\r\n3\r\n");
    assert_eq!(r(&mut c, &["ZPOPMIN", "z", "0"]), "*0\r\n");
    assert_eq!(r(&mut c, &["ZPOPMIN", "z", "-1"]), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(r(&mut c, &["ZPOPMIN", "z", "100"]), "*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(r(&mut c, &["EXISTS", "z"]), ":0\r\n");
    assert_eq!(r(&mut c, &["ZPOPMIN", "z"]), "*0\r\n");
    r(&mut c, &["ZADD", "z2", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(r(&mut c, &["ZMPOP", "2", "z", "z2", "MAX", "COUNT", "2"]), "*2\r\n$2\r\nz2\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(r(&mut c, &["ZMPOP", "1", "z", "MIN"]), "*-1\r\n");
    assert_eq!(r(&mut c, &["ZMPOP", "0", "z", "MIN"]), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(r(&mut c, &["ZMPOP", "5", "z", "MIN"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZMPOP", "1", "z", "MIN", "COUNT", "0"]), "-ERR count should be greater than 0\r\n");
    assert_eq!(r(&mut c, &["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"]), "-ERR syntax error\r\n");
    r(&mut c, &["HELLO", "3"]);
    assert_eq!(r(&mut c, &["ZPOPMIN", "z2"]), "*2\r\n$1\r\na\r\n,1\r\n");
    r(&mut c, &["ZADD", "z3", "1", "a"]);
    assert_eq!(r(&mut c, &["ZPOPMIN", "z3", "1"]), "*1\r\n*2\r\n$1\r\na\r\n,1\r\n");
    assert_eq!(r(&mut c, &["ZMPOP", "1", "z3", "MIN"]), "_\r\n");
}

#[test]
fn set_operations() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    r(&mut c, &["ZADD", "a", "1", "x", "2", "y", "3", "z"]);
    r(&mut c, &["ZADD", "b", "10", "y", "20", "z", "30", "w"]);
    r(&mut c, &["SADD", "s", "z", "q"]);
    assert_eq!(r(&mut c, &["ZUNION", "2", "a", "b", "WITHSCORES"]), "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n");
    assert_eq!(r(&mut c, &["ZINTER", "2", "a", "b", "WEIGHTS", "2", "0.5", "AGGREGATE", "MAX", "WITHSCORES"]), "*4\r\n$1\r\ny\r\n$1\r\n5\r\n$1\r\nz\r\n$2\r\n10\r\n");
    assert_eq!(r(&mut c, &["ZINTER", "2", "a", "s", "WITHSCORES"]), "*2\r\n$1\r\nz\r\n$1\r\n4\r\n");
    assert_eq!(r(&mut c, &["ZDIFF", "2", "a", "b"]), "*1\r\n$1\r\nx\r\n");
    assert_eq!(r(&mut c, &["ZUNIONSTORE", "d", "3", "a", "b", "s", "AGGREGATE", "MIN"]), ":5\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]), "*10\r\n$1\r\nq\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nw\r\n$2\r\n30\r\n");
    assert_eq!(r(&mut c, &["ZINTERSTORE", "d", "2", "a", "missing"]), ":0\r\n");
    assert_eq!(r(&mut c, &["EXISTS", "d"]), ":0\r\n");
    assert_eq!(r(&mut c, &["ZDIFFSTORE", "d", "1", "a"]), ":3\r\n");
    assert_eq!(r(&mut c, &["ZINTERCARD", "2", "a", "b"]), ":2\r\n");
    assert_eq!(r(&mut c, &["ZINTERCARD", "2", "a", "b", "LIMIT", "1"]), ":1\r\n");
    assert_eq!(r(&mut c, &["ZINTERCARD", "1", "a", "LIMIT", "-1"]), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(r(&mut c, &["ZUNIONSTORE", "d", "0", "a"]), "-ERR at least 1 input key is needed for 'zunionstore' command\r\n");
    assert_eq!(r(&mut c, &["ZINTER", "3", "a"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZUNION", "1", "a", "WEIGHTS", "x"]), "-ERR weight value is not a float\r\n");
    assert_eq!(r(&mut c, &["ZUNION", "1", "a", "AGGREGATE", "avg"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZDIFF", "1", "a", "WEIGHTS", "1"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZUNIONSTORE", "d", "1", "a", "WITHSCORES"]), "-ERR syntax error\r\n");
    // inf + -inf is 0 in SUM.
    r(&mut c, &["ZADD", "p", "inf", "m"]);
    r(&mut c, &["ZADD", "n", "-inf", "m"]);
    assert_eq!(r(&mut c, &["ZUNION", "2", "p", "n", "WITHSCORES"]), "*2\r\n$1\r\nm\r\n$1\r\n0\r\n");
}

#[test]
fn rangestore_randmember_scan() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    r(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]);
    assert_eq!(r(&mut c, &["ZRANGESTORE", "d", "z", "(1", "+inf", "BYSCORE", "LIMIT", "0", "2"]), ":2\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "d", "0", "-1"]), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(r(&mut c, &["ZRANGESTORE", "d", "z", "0", "-1", "WITHSCORES"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZRANGESTORE", "d", "z", "5", "6"]), ":0\r\n");
    assert_eq!(r(&mut c, &["EXISTS", "d"]), ":0\r\n");
    // ZRANDMEMBER
    assert_eq!(r(&mut c, &["ZRANDMEMBER", "missing"]), "$-1\r\n");
    assert_eq!(r(&mut c, &["ZRANDMEMBER", "missing", "3"]), "*0\r\n");
    assert_eq!(r(&mut c, &["ZRANDMEMBER", "z", "0"]), "*0\r\n");
    assert_eq!(r(&mut c, &["ZRANDMEMBER", "z", "10", "WITHSCORES"]), "*8\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n");
    let f = c.call(&["ZRANDMEMBER", "z", "-20"]);
    match f {
        redust::resp::reply::Frame::Array(Some(v)) => assert_eq!(v.len(), 20),
        other => panic!("{other:?}"),
    }
    let f = c.call(&["ZRANDMEMBER", "z", "3"]);
    if let redust::resp::reply::Frame::Array(Some(v)) = f {
        let mut v: Vec<_> = v.iter().map(|x| format!("{x:?}")).collect();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 3, "distinct members");
    } else {
        panic!("array expected");
    }
    assert_eq!(r(&mut c, &["ZRANDMEMBER", "z", "1", "x"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"]), "-ERR value is out of range\r\n");
    // ZSCAN: listpack in one call.
    assert_eq!(r(&mut c, &["ZSCAN", "z", "0", "MATCH", "[ab]"]), "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(r(&mut c, &["ZSCAN", "z", "0", "COUNT", "0"]), "-ERR syntax error\r\n");
    assert_eq!(r(&mut c, &["ZSCAN", "z", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(r(&mut c, &["ZSCAN", "missing", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    // Big set: every member exactly reached through the cursor.
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..1000 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    c.call(&args);
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let f = c.call(&["ZSCAN", "big", &cursor, "COUNT", "50"]);
        let redust::resp::reply::Frame::Array(Some(v)) = f else { panic!() };
        let redust::resp::reply::Frame::Bulk(Some(cur)) = &v[0] else { panic!() };
        let redust::resp::reply::Frame::Array(Some(items)) = &v[1] else { panic!() };
        for p in items.chunks(2) {
            if let redust::resp::reply::Frame::Bulk(Some(m)) = &p[0] {
                seen.insert(m.clone());
            }
        }
        cursor = String::from_utf8(cur.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
}

#[test]
fn encodings_convert_like_redis() {
    let s = Server::start(&["--zset-max-listpack-entries", "4", "--zset-max-listpack-value", "8"]);
    let mut c = s.raw();
    r(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]);
    assert_eq!(r(&mut c, &["OBJECT", "ENCODING", "z"]), "$8\r\nlistpack\r\n");
    r(&mut c, &["ZADD", "z", "5", "e"]);
    assert_eq!(r(&mut c, &["OBJECT", "ENCODING", "z"]), "$8\r\nskiplist\r\n");
    // No conversion back on removal.
    r(&mut c, &["ZREM", "z", "a", "b", "c"]);
    assert_eq!(r(&mut c, &["OBJECT", "ENCODING", "z"]), "$8\r\nskiplist\r\n");
    r(&mut c, &["ZADD", "long", "1", "123456789"]);
    assert_eq!(r(&mut c, &["OBJECT", "ENCODING", "long"]), "$8\r\nskiplist\r\n");
    // Store results become listpacks when they fit.
    r(&mut c, &["ZUNIONSTORE", "u", "1", "z"]);
    assert_eq!(r(&mut c, &["OBJECT", "ENCODING", "u"]), "$8\r\nlistpack\r\n");
    // -0: kept by the skiplist, 0 in a listpack.
    r(&mut c, &["ZADD", "z", "-0", "neg"]);
    assert_eq!(r(&mut c, &["ZSCORE", "z", "neg"]), "$2\r\n-0\r\n");
    r(&mut c, &["ZADD", "small", "-0", "neg"]);
    assert_eq!(r(&mut c, &["ZSCORE", "small", "neg"]), "$1\r\n0\r\n");
    // A big sorted set keeps order and ranks.
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in (0..5000).rev() {
        args.push((i / 2).to_string());
        args.push(format!("m{i:05}"));
    }
    c.call(&args);
    assert_eq!(r(&mut c, &["ZRANK", "big", "m02001"]), ":2001\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "big", "2500", "2501"]), "*2\r\n$6\r\nm02500\r\n$6\r\nm02501\r\n");
    assert_eq!(r(&mut c, &["ZCOUNT", "big", "(100", "200"]), ":200\r\n");
    assert_eq!(r(&mut c, &["ZREMRANGEBYRANK", "big", "0", "-4001"]), ":1000\r\n");
    assert_eq!(r(&mut c, &["ZRANGE", "big", "0", "0", "WITHSCORES"]), "*2\r\n$6\r\nm01000\r\n$3\r\n500\r\n");
}

#[test]
fn blocking_pops() {
    let s = Server::start(&[]);
    let mut w1 = s.raw();
    let mut w2 = s.raw();
    let mut c = s.raw();
    // FIFO: the first waiter gets the first element.
    w1.send(&["BZPOPMIN", "q", "other", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    w2.send(&["BZPOPMIN", "q", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(r(&mut c, &["ZADD", "q", "1", "a"]), ":1\r\n");
    assert_eq!(String::from_utf8_lossy(&w1.read_raw().unwrap().1), "*3\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(r(&mut c, &["ZADD", "q", "2", "b", "3", "c"]), ":2\r\n");
    assert_eq!(String::from_utf8_lossy(&w2.read_raw().unwrap().1), "*3\r\n$1\r\nq\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(r(&mut c, &["ZCARD", "q"]), ":1\r\n");
    // BZPOPMAX served by ZUNIONSTORE creating the key.
    w1.send(&["BZPOPMAX", "made", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    r(&mut c, &["ZUNIONSTORE", "made", "1", "q"]);
    assert_eq!(String::from_utf8_lossy(&w1.read_raw().unwrap().1), "*3\r\n$4\r\nmade\r\n$1\r\nc\r\n$1\r\n3\r\n");
    // BZMPOP with count.
    w1.send(&["BZMPOP", "0", "2", "x", "y", "MAX", "COUNT", "5"]);
    std::thread::sleep(Duration::from_millis(100));
    r(&mut c, &["ZADD", "y", "1", "a", "2", "b"]);
    assert_eq!(String::from_utf8_lossy(&w1.read_raw().unwrap().1), "*2\r\n$1\r\ny\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    // Timeout with a fraction of a second.
    let t = Instant::now();
    assert_eq!(r(&mut w1, &["BZPOPMIN", "none", "0.2"]), "*-1\r\n");
    assert!(t.elapsed() >= Duration::from_millis(180), "{:?}", t.elapsed());
    assert_eq!(r(&mut w1, &["BZMPOP", "0.1", "1", "none", "MIN"]), "*-1\r\n");
    assert_eq!(r(&mut w1, &["BZPOPMIN", "none", "-1"]), "-ERR timeout is negative\r\n");
    assert_eq!(r(&mut w1, &["BZPOPMIN", "none", "x"]), "-ERR timeout is not a float or out of range\r\n");
    assert_eq!(r(&mut w1, &["BZMPOP", "x", "1", "none", "MIN"]), "-ERR timeout is not a float or out of range\r\n");
    // Immediate when data is there; inside MULTI it never blocks.
    r(&mut c, &["ZADD", "ready", "5", "v"]);
    assert_eq!(r(&mut w1, &["BZPOPMAX", "ready", "0"]), "*3\r\n$5\r\nready\r\n$1\r\nv\r\n$1\r\n5\r\n");
    r(&mut w1, &["MULTI"]);
    r(&mut w1, &["BZPOPMIN", "none", "0"]);
    assert_eq!(r(&mut w1, &["EXEC"]), "*1\r\n*-1\r\n");
    // A waiter that disconnects is dropped; the next one is served.
    let mut gone = s.raw();
    gone.send(&["BZPOPMIN", "dq", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    drop(gone);
    w2.send(&["BZPOPMIN", "dq", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    r(&mut c, &["ZADD", "dq", "1", "only"]);
    assert_eq!(String::from_utf8_lossy(&w2.read_raw().unwrap().1), "*3\r\n$2\r\ndq\r\n$4\r\nonly\r\n$1\r\n1\r\n");
    assert_eq!(r(&mut c, &["EXISTS", "dq"]), ":0\r\n");
}

#[test]
fn command_table_entries() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let info: redis::Value = redis::cmd("COMMAND").arg("INFO").arg("zadd").arg("zunionstore").arg("bzpopmin").arg("zrank").query(&mut c).unwrap();
    let text = format!("{info:?}");
    assert!(text.contains("sortedset"), "{text}");
    let zadd: Vec<redis::Value> = match info {
        redis::Value::Array(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(zadd.len(), 4);
    // Through the redis crate: typical client usage.
    let _: () = redis::cmd("ZADD").arg("k").arg(1.5).arg("one").arg(2).arg("two").query(&mut c).unwrap();
    let v: Vec<(String, f64)> = redis::cmd("ZRANGE").arg("k").arg(0).arg(-1).arg("WITHSCORES").query(&mut c).unwrap();
    assert_eq!(v, vec![("one".to_string(), 1.5), ("two".to_string(), 2.0)]);
    let n: i64 = redis::cmd("ZCARD").arg("k").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let sc: Option<f64> = redis::cmd("ZSCORE").arg("k").arg("two").query(&mut c).unwrap();
    assert_eq!(sc, Some(2.0));
}
