//! Key-spec flags of each command's keys, as Redis 7 declares them
//! (RO/RW/OW/RM plus access, insert, update, delete). COMMAND
//! GETKEYSANDFLAGS prints them and ACL checks `%R~`/`%W~` patterns against
//! them: `access` needs read permission; insert, update and delete need
//! write permission; a key with none of those needs either.

use bytes::Bytes;

use super::Command;

/// The specs of a command, in Redis's order (one per group of keys).
fn specs(name: &str) -> &'static [&'static [&'static str]] {
    match name {
        "msetnx" | "setnx" => &[&["OW", "insert"]],
        "mset" | "psetex" | "restore" | "restore-asking" | "setex" => &[&["OW", "update"]],
        "bitop" | "geosearchstore" | "sdiffstore" | "sunionstore" | "zdiffstore"
        | "zinterstore" | "zrangestore" | "zunionstore" => &[&["OW", "update"], &["RO", "access"]],
        "del" | "unlink" => &[&["RM", "delete"]],
        "exists" | "hexists" | "hlen" | "hstrlen" | "llen" | "memory|usage" | "object|encoding"
        | "object|freq" | "object|idletime" | "object|refcount" | "scard" | "sismember"
        | "strlen" | "touch" | "type" | "watch" | "xlen" | "zcard" => &[&["RO"]],
        "bitcount"
        | "bitfield_ro"
        | "bitpos"
        | "dump"
        | "eval_ro"
        | "evalsha_ro"
        | "expiretime"
        | "fcall_ro"
        | "geodist"
        | "geohash"
        | "geopos"
        | "georadius_ro"
        | "georadiusbymember_ro"
        | "geosearch"
        | "get"
        | "getbit"
        | "getrange"
        | "hget"
        | "hgetall"
        | "hkeys"
        | "hmget"
        | "hrandfield"
        | "hscan"
        | "hvals"
        | "lcs"
        | "lindex"
        | "lpos"
        | "lrange"
        | "mget"
        | "pexpiretime"
        | "pttl"
        | "sdiff"
        | "sinter"
        | "sintercard"
        | "smembers"
        | "smismember"
        | "srandmember"
        | "sscan"
        | "substr"
        | "sunion"
        | "ttl"
        | "xinfo|consumers"
        | "xinfo|groups"
        | "xinfo|stream"
        | "xpending"
        | "xrange"
        | "xread"
        | "xreadgroup"
        | "xrevrange"
        | "zcount"
        | "zdiff"
        | "zinter"
        | "zintercard"
        | "zlexcount"
        | "zmscore"
        | "zrandmember"
        | "zrange"
        | "zrangebylex"
        | "zrangebyscore"
        | "zrank"
        | "zrevrange"
        | "zrevrangebylex"
        | "zrevrangebyscore"
        | "zrevrank"
        | "zscan"
        | "zscore"
        | "zunion" => &[&["RO", "access"]],
        "copy" => &[&["RO", "access"], &["OW", "update"]],
        "georadius" | "georadiusbymember" => {
            &[&["RO", "access"], &["OW", "update"], &["OW", "update"]]
        }
        "sort_ro" => &[&["RO", "access"], &["RO", "access"]],
        "sort" => &[&["RO", "access"], &["RO", "access"], &["OW", "update"]],
        "pfcount" | "pfdebug" => &[&["RW", "access"]],
        "blmpop" | "blpop" | "brpop" | "bzmpop" | "bzpopmax" | "bzpopmin" | "getdel" | "lmpop"
        | "lpop" | "rpop" | "spop" | "zmpop" | "zpopmax" | "zpopmin" => {
            &[&["RW", "access", "delete"]]
        }
        "renamenx" => &[&["RW", "access", "delete"], &["OW", "insert"]],
        "rename" => &[&["RW", "access", "delete"], &["OW", "update"]],
        "migrate" => &[
            &["RW", "access", "delete"],
            &["RW", "access", "delete", "incomplete"],
        ],
        "blmove" | "brpoplpush" | "lmove" | "rpoplpush" | "smove" => {
            &[&["RW", "access", "delete"], &["RW", "insert"]]
        }
        "pfmerge" => &[&["RW", "access", "insert"], &["RO", "access"]],
        "decr" | "decrby" | "eval" | "evalsha" | "fcall" | "getex" | "getset" | "hincrby"
        | "hincrbyfloat" | "incr" | "incrby" | "incrbyfloat" | "move" | "setbit" | "zincrby" => {
            &[&["RW", "access", "update"]]
        }
        "bitfield" | "set" => &[&["RW", "access", "update", "variable_flags"]],
        "hdel" | "lrem" | "ltrim" | "srem" | "xautoclaim" | "xdel" | "xgroup|delconsumer"
        | "xgroup|destroy" | "xtrim" | "zrem" | "zremrangebylex" | "zremrangebyrank"
        | "zremrangebyscore" => &[&["RW", "delete"]],
        "append"
        | "hsetnx"
        | "linsert"
        | "lpush"
        | "lpushx"
        | "pfadd"
        | "rpush"
        | "rpushx"
        | "sadd"
        | "xgroup|create"
        | "xgroup|createconsumer" => &[&["RW", "insert"]],
        "expire" | "expireat" | "geoadd" | "hmset" | "hset" | "lset" | "persist" | "pexpire"
        | "pexpireat" | "setrange" | "xack" | "xadd" | "xclaim" | "xgroup|setid" | "xsetid"
        | "zadd" => &[&["RW", "update"]],
        "sinterstore" => &[&["RW", "update"], &["RO", "access"]],
        "spublish" | "ssubscribe" | "sunsubscribe" => &[&["not_key"]],
        _ => &[],
    }
}

/// Flags of the `i`-th key found in `args` (keys beyond the last spec
/// belong to the last one, as with SDIFFSTORE's sources). Without
/// arguments, the declared flags (COMMAND INFO); with them, SET's and
/// BITFIELD's variable flags are resolved for the call as Redis does.
pub fn key_flags(c: &Command, i: usize, args: &[Bytes]) -> &'static [&'static str] {
    if !args.is_empty() {
        let opt = |o: &str| args.iter().skip(2).any(|a| super::is(a, o));
        match c.name {
            "set" if !opt("get") => return &["OW", "update"],
            "set" => return &["RW", "access", "update"],
            "bitfield" if !opt("set") && !opt("incrby") => return &["RO", "access"],
            "bitfield" => return &["RW", "access", "update"],
            _ => {}
        }
    }
    // SORT's only key found after the first is its STORE destination (the
    // BY/GET spec in between names no key).
    if c.name == "sort" && i > 0 {
        return &["OW", "update"];
    }
    let s = specs(c.name);
    match s.get(i.min(s.len().saturating_sub(1))) {
        Some(f) => f,
        None if c.flags & super::WRITE != 0 => &["RW"],
        None => &["RO"],
    }
}
