//! A chained hash table keyed by byte strings, with the properties Redis's
//! dict gives and `hashbrown` cannot: a stateless SCAN cursor that returns
//! every element present for the whole scan at least once even when the table
//! grows or shrinks between calls, and cheap uniform-ish random sampling for
//! RANDOMKEY, eviction and active expiry.
//!
//! Buckets are a power of two; the cursor walks bucket indexes with their bits
//! reversed, so after a resize the buckets already visited map onto a prefix of
//! the new walk (the classic reverse-binary iteration). Resizes are done at
//! once rather than incrementally.

use std::hash::BuildHasher;

use rand::Rng;

pub type Key = Box<[u8]>;

struct Node<V> {
    key: Key,
    val: V,
    next: Option<Box<Node<V>>>,
}

pub struct Dict<V> {
    table: Vec<Option<Box<Node<V>>>>,
    len: usize,
    hasher: hashbrown::DefaultHashBuilder,
}

const MIN_BUCKETS: usize = 4;

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Dict { table: Vec::new(), len: 0, hasher: Default::default() }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn buckets(&self) -> usize {
        self.table.len()
    }

    fn hash(&self, k: &[u8]) -> u64 {
        self.hasher.hash_one(k)
    }

    fn slot(&self, k: &[u8]) -> usize {
        (self.hash(k) as usize) & (self.table.len() - 1)
    }

    pub fn get(&self, k: &[u8]) -> Option<&V> {
        self.get_key_value(k).map(|(_, v)| v)
    }

    pub fn get_key_value(&self, k: &[u8]) -> Option<(&Key, &V)> {
        if self.len == 0 {
            return None;
        }
        let mut cur = self.table[self.slot(k)].as_deref();
        while let Some(n) = cur {
            if &*n.key == k {
                return Some((&n.key, &n.val));
            }
            cur = n.next.as_deref();
        }
        None
    }

    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        if self.len == 0 {
            return None;
        }
        let s = self.slot(k);
        let mut cur = self.table[s].as_deref_mut();
        while let Some(n) = cur {
            if &*n.key == k {
                return Some(&mut n.val);
            }
            cur = n.next.as_deref_mut();
        }
        None
    }

    pub fn contains_key(&self, k: &[u8]) -> bool {
        self.get(k).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, k: Key, v: V) -> Option<V> {
        if let Some(slot) = self.get_mut(&k) {
            return Some(std::mem::replace(slot, v));
        }
        self.insert_new(k, v);
        None
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, k: Key, v: V) {
        if self.len >= self.table.len() {
            self.resize((self.table.len() * 2).max(MIN_BUCKETS));
        }
        let s = self.slot(&k);
        let next = self.table[s].take();
        self.table[s] = Some(Box::new(Node { key: k, val: v, next }));
        self.len += 1;
    }

    pub fn remove(&mut self, k: &[u8]) -> Option<(Key, V)> {
        if self.len == 0 {
            return None;
        }
        let s = self.slot(k);
        let mut link = &mut self.table[s];
        loop {
            match link {
                None => return None,
                Some(n) if &*n.key == k => {
                    let mut node = link.take()?;
                    *link = node.next.take();
                    self.len -= 1;
                    self.maybe_shrink();
                    return Some((node.key, node.val));
                }
                Some(n) => link = &mut n.next,
            }
        }
    }

    fn maybe_shrink(&mut self) {
        let b = self.table.len();
        if b > MIN_BUCKETS && self.len * 8 < b {
            self.resize((self.len * 2).next_power_of_two().max(MIN_BUCKETS));
        }
    }

    fn resize(&mut self, new_size: usize) {
        let old = std::mem::take(&mut self.table);
        self.table.resize_with(new_size, || None);
        let mask = new_size - 1;
        for mut head in old {
            while let Some(mut n) = head {
                head = n.next.take();
                let s = (self.hasher.hash_one(&*n.key) as usize) & mask;
                n.next = self.table[s].take();
                self.table[s] = Some(n);
            }
        }
    }

    pub fn clear(&mut self) {
        // Drop chains iteratively: a recursive Box drop of a long chain
        // could overflow the stack.
        for head in self.table.iter_mut() {
            let mut cur = head.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
            }
        }
        self.table = Vec::new();
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &V)> {
        self.table.iter().flat_map(|head| {
            let mut cur = head.as_deref();
            std::iter::from_fn(move || {
                let n = cur?;
                cur = n.next.as_deref();
                Some((&n.key, &n.val))
            })
        })
    }

    /// Visits one bucket chain (and more while it stays under `min_items`)
    /// and returns the next cursor; 0 when the walk is complete.
    pub fn scan(&self, mut cursor: u64, min_items: usize, mut f: impl FnMut(&Key, &V)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mask = (self.table.len() - 1) as u64;
        let mut seen = 0;
        let mut steps = 0;
        loop {
            let mut cur = self.table[(cursor & mask) as usize].as_deref();
            while let Some(n) = cur {
                f(&n.key, &n.val);
                seen += 1;
                cur = n.next.as_deref();
            }
            cursor |= !mask;
            cursor = cursor.reverse_bits().wrapping_add(1).reverse_bits();
            steps += 1;
            if cursor == 0 || seen >= min_items || steps >= min_items * 10 {
                return cursor;
            }
        }
    }

    /// A random element: a random non-empty bucket, then a random node of
    /// its chain. Not perfectly uniform, as in Redis, and good enough for
    /// sampling.
    pub fn random<R: Rng>(&self, rng: &mut R) -> Option<(&Key, &V)> {
        if self.len == 0 {
            return None;
        }
        let mask = self.table.len() - 1;
        loop {
            let head = self.table[rng.gen::<usize>() & mask].as_deref();
            if let Some(h) = head {
                let mut chain = 0;
                let mut c = Some(h);
                while let Some(n) = c {
                    chain += 1;
                    c = n.next.as_deref();
                }
                let mut pick = rng.gen_range(0..chain);
                let mut c = h;
                while pick > 0 {
                    c = c.next.as_deref()?;
                    pick -= 1;
                }
                return Some((&c.key, &c.val));
            }
        }
    }
}

impl<V> Drop for Dict<V> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn k(i: usize) -> Key {
        format!("key:{i}").into_bytes().into_boxed_slice()
    }

    #[test]
    fn insert_get_remove() {
        let mut d = Dict::new();
        for i in 0..1000 {
            assert!(d.insert(k(i), i).is_none());
        }
        assert_eq!(d.len(), 1000);
        assert_eq!(d.get(&k(7)), Some(&7));
        assert_eq!(d.insert(k(7), 70), Some(7));
        for i in 0..990 {
            assert!(d.remove(&k(i)).is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.buckets() <= 64);
        assert_eq!(d.get(&k(995)), Some(&995));
    }

    #[test]
    fn scan_survives_resizes() {
        let mut d = Dict::new();
        for i in 0..500 {
            d.insert(k(i), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = d.scan(cursor, 10, |key, _| {
                seen.insert(key.clone());
            });
            round += 1;
            // Grow, then shrink, in the middle of the walk.
            if round == 5 {
                for i in 500..3000 {
                    d.insert(k(i), ());
                }
            }
            if round == 20 {
                for i in 500..3000 {
                    d.remove(&k(i));
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(&k(i)), "missed {i}");
        }
    }

    #[test]
    fn random_finds_elements() {
        let mut d = Dict::new();
        let mut rng = rand::thread_rng();
        assert!(d.random(&mut rng).is_none());
        for i in 0..10 {
            d.insert(k(i), i);
        }
        let mut hit = HashSet::new();
        for _ in 0..1000 {
            hit.insert(*d.random(&mut rng).unwrap().1);
        }
        assert_eq!(hit.len(), 10);
    }
}
