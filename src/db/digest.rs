//! DEBUG DIGEST and DEBUG DIGEST-VALUE: a content digest of the dataset for
//! tests. The same data gives the same digest after a reload or an AOF
//! replay, whatever each value's encoding or its hash table's order. Any
//! change a client could see (a member, a score, an expiry) changes it,
//! except a stream consumer's seen time, which each server sets from its
//! own clock.
//!
//! Each key's record (database, name, value) is hashed with SHA-1 and the
//! records are XORed together, so the order of keys does not matter. Sets
//! and hashes XOR their members' hashes the same way; lists, sorted sets
//! (by rank) and streams hash their elements in order. The digests are
//! Redust's own: like Redis's they are 40 hex digits and all zeros for an
//! empty dataset, but they are not comparable with what Redis computes.

use sha1_smol::Sha1;

use super::{Keyspace, StrVal, Value};

pub type Digest = [u8; 20];

/// A SHA-1 over length-prefixed parts, so that ("ab", "c") and ("a", "bc")
/// differ.
struct Mix(Sha1);

impl Mix {
    fn new() -> Mix {
        Mix(Sha1::new())
    }

    fn part(&mut self, b: &[u8]) {
        self.0.update(&(b.len() as u64).to_le_bytes());
        self.0.update(b);
    }

    fn num(&mut self, n: u64) {
        self.0.update(&n.to_le_bytes());
    }

    fn digest(self) -> Digest {
        self.0.digest().bytes()
    }
}

fn xor(into: &mut Digest, d: &Digest) {
    for (a, b) in into.iter_mut().zip(d) {
        *a ^= b;
    }
}

fn of(parts: &[&[u8]]) -> Digest {
    let mut m = Mix::new();
    for p in parts {
        m.part(p);
    }
    m.digest()
}

/// A value and its expiry (absolute ms).
pub fn value(v: &Value, expire_at: Option<i64>) -> Digest {
    let mut m = Mix::new();
    m.part(v.type_name().as_bytes());
    match v {
        Value::Str(s) => m.part(&StrVal::as_bytes(s)),
        Value::List(l) => {
            m.num(l.len() as u64);
            for e in l.iter() {
                m.part(&e.to_vec());
            }
        }
        Value::Set(s) => {
            let mut acc = [0; 20];
            for e in s.iter() {
                xor(&mut acc, &of(&[&e.bytes()[..]]));
            }
            m.part(&acc);
        }
        Value::Hash(h) => {
            let mut acc = [0; 20];
            for (f, val) in h.iter() {
                xor(&mut acc, &of(&[f, val]));
            }
            m.part(&acc);
        }
        Value::ZSet(z) => {
            m.num(z.len() as u64);
            for r in 0..z.len() {
                if let Some((member, score)) = z.select(r) {
                    m.part(member);
                    // -0 and 0 are the same score to every command.
                    let score = if score == 0.0 { 0.0 } else { score };
                    m.num(score.to_bits());
                }
            }
        }
        Value::Stream(st) => {
            m.num(st.entries.len() as u64);
            for (id, fields) in &st.entries {
                m.part(&id.to_be());
                m.num(fields.len() as u64);
                for f in fields {
                    m.part(f);
                }
            }
            for id in [st.last_id, st.first_id, st.max_deleted] {
                m.part(&id.to_be());
            }
            m.num(st.entries_added);
            m.num(st.groups.len() as u64);
            for (name, g) in &st.groups {
                m.part(name);
                m.part(&g.last_id.to_be());
                m.num(g.entries_read as u64);
                m.num(g.pel.len() as u64);
                for (id, n) in &g.pel {
                    m.part(&id.to_be());
                    m.num(n.delivery_time as u64);
                    m.num(n.delivery_count);
                }
                m.num(g.consumers.len() as u64);
                // Not a consumer's seen time: it is when the consumer last
                // acted on this server, which a replica or an AOF replay
                // sets to its own clock.
                for (cname, c) in &g.consumers {
                    m.part(cname);
                    m.num(c.pel.len() as u64);
                    for id in &c.pel {
                        m.part(&id.to_be());
                    }
                }
            }
        }
    }
    match expire_at {
        Some(t) => {
            m.part(b"expire");
            m.num(t as u64);
        }
        None => m.part(b"persist"),
    }
    m.digest()
}

/// Every key a client can see (keys already expired are left out).
pub fn dataset(ks: &Keyspace, now_ms: i64) -> Digest {
    let mut acc = [0; 20];
    for (i, db) in ks.dbs.iter().enumerate() {
        for (key, e) in db.dict().iter() {
            let exp = db.expire_at(key);
            if exp.is_some_and(|t| t <= now_ms) {
                continue;
            }
            let mut m = Mix::new();
            m.num(i as u64);
            m.part(key);
            m.part(&value(&e.val, exp));
            xor(&mut acc, &m.digest());
        }
    }
    acc
}

pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_delimited() {
        assert_ne!(of(&[b"ab", b"c"]), of(&[b"a", b"bc"]));
    }

    #[test]
    fn an_empty_keyspace_is_all_zeros() {
        let ks = Keyspace::new(16);
        assert_eq!(hex(&dataset(&ks, 0)), "0".repeat(40));
    }

    #[test]
    fn a_consumers_seen_time_is_not_content_but_its_group_is() {
        use crate::db::stream::{Group, Stream, StreamId};
        let with_consumer = |seen: i64, entries_read: i64| {
            let mut st = Stream::default();
            let mut g = Group::new(StreamId::new(0, 0), entries_read);
            g.consumer(b"alice", seen);
            st.groups.insert(b"g".to_vec().into_boxed_slice(), g);
            value(&Value::Stream(Box::new(st)), None)
        };
        assert_eq!(with_consumer(1, 0), with_consumer(2, 0));
        assert_ne!(with_consumer(1, 0), with_consumer(1, 1));
    }

    #[test]
    fn integers_digest_as_their_text() {
        assert_eq!(
            value(&Value::Str(StrVal::Int(12345)), None),
            value(&Value::bytes(b"12345"), None)
        );
        assert_ne!(
            value(&Value::bytes(b"12345"), None),
            value(&Value::bytes(b"12345"), Some(1))
        );
    }
}
