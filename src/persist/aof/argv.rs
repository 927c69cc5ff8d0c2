//! What a write command is replayed as. A command whose effect depends on
//! when or how it ran (a relative TTL, a blocking wait, a float
//! computation) is rewritten into one whose effect depends only on the
//! dataset it is replayed on: TTLs become absolute times read back from
//! the dataset, blocking pops become their non-blocking forms over the same
//! keys, INCRBYFLOAT becomes a SET of the result. Everything else is
//! replayed as it was sent.

use bytes::Bytes;

use crate::db::Value;
use crate::server::Server;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn num(n: impl ToString) -> Bytes {
    Bytes::from(n.to_string())
}

fn is(a: &[u8], s: &str) -> bool {
    a.eq_ignore_ascii_case(s.as_bytes())
}

/// The argv(s) to propagate for `args`, which ran in database `db` and
/// changed the dataset.
pub fn for_replay(srv: &Server, db: usize, name: &str, args: &[Bytes]) -> Vec<Vec<Bytes>> {
    let d = &srv.ks.dbs[db];
    let key = || args[1].clone();
    let exists = |k: &[u8]| d.dict().contains_key(k);
    let expire_at = |k: &[u8]| d.expire_at(k);
    let del = || vec![b("DEL"), key()];
    let one = |v: Vec<Bytes>| vec![v];
    match name {
        "set"
            if args[3..]
                .iter()
                .any(|a| ["ex", "px", "exat", "pxat"].iter().any(|o| is(a, o))) =>
        {
            let Some(at) = expire_at(&args[1]) else {
                return one(if exists(&args[1]) {
                    args.to_vec()
                } else {
                    del()
                });
            };
            let mut v = vec![b("SET"), key(), args[2].clone()];
            let mut i = 3;
            while i < args.len() {
                if ["ex", "px", "exat", "pxat"].iter().any(|o| is(&args[i], o)) {
                    i += 2;
                    continue;
                }
                v.push(args[i].clone());
                i += 1;
            }
            v.extend([b("PXAT"), num(at)]);
            one(v)
        }
        "setex" | "psetex" => match expire_at(&args[1]) {
            Some(at) => one(vec![b("SET"), key(), args[3].clone(), b("PXAT"), num(at)]),
            None => one(del()),
        },
        "expire" | "pexpire" | "expireat" | "pexpireat" | "getex" => {
            match (exists(&args[1]), expire_at(&args[1])) {
                (true, Some(at)) => one(vec![b("PEXPIREAT"), key(), num(at)]),
                (true, None) => one(vec![b("PERSIST"), key()]),
                (false, _) => one(del()),
            }
        }
        "getdel" => one(del()),
        "incrbyfloat" => match d.dict().get(&args[1]).map(|e| &e.val) {
            Some(Value::Str(s)) => one(vec![
                b("SET"),
                key(),
                Bytes::from(s.as_bytes().into_owned()),
                b("KEEPTTL"),
            ]),
            _ => one(args.to_vec()),
        },
        "hincrbyfloat" => match d.dict().get(&args[1]).map(|e| &e.val) {
            Some(Value::Hash(h)) => match h.get(&args[2]) {
                Some(v) => one(vec![
                    b("HSET"),
                    key(),
                    args[2].clone(),
                    Bytes::copy_from_slice(&v[..]),
                ]),
                None => one(args.to_vec()),
            },
            _ => one(args.to_vec()),
        },
        // A served blocking pop took from the first non-empty key in
        // argument order, which is what the non-blocking forms do on the
        // same dataset.
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            let keys = &args[1..args.len() - 1];
            let (cmd, side) = match name {
                "blpop" => ("LMPOP", "LEFT"),
                "brpop" => ("LMPOP", "RIGHT"),
                "bzpopmin" => ("ZMPOP", "MIN"),
                _ => ("ZMPOP", "MAX"),
            };
            let mut v = vec![b(cmd), num(keys.len())];
            v.extend(keys.iter().cloned());
            v.push(b(side));
            one(v)
        }
        "blmpop" | "bzmpop" => {
            let mut v = vec![b(if name == "blmpop" { "LMPOP" } else { "ZMPOP" })];
            v.extend(args[2..].iter().cloned());
            one(v)
        }
        "blmove" => one(vec![
            b("LMOVE"),
            key(),
            args[2].clone(),
            args[3].clone(),
            args[4].clone(),
        ]),
        "brpoplpush" => one(vec![b("RPOPLPUSH"), key(), args[2].clone()]),
        "restore" => {
            let mut v = vec![
                b("RESTORE"),
                key(),
                num(expire_at(&args[1]).unwrap_or(0)),
                args[3].clone(),
            ];
            v.extend(args[4..].iter().filter(|a| !is(a, "absttl")).cloned());
            v.push(b("ABSTTL"));
            one(v)
        }
        // What XREADGROUP changed is propagated by the command itself
        // (XCLAIM, XGROUP SETID/CREATECONSUMER); the read is never replayed.
        "xreadgroup" => Vec::new(),
        _ => one(args.to_vec()),
    }
}

/// Appends `argv` to `out` as a RESP multibulk, the AOF's format.
pub fn encode(out: &mut Vec<u8>, argv: &[Bytes]) {
    out.push(b'*');
    out.extend_from_slice(argv.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
