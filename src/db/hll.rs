//! HyperLogLog sketches, kept as plain strings in Redis's byte layout so that
//! GET, SET, DUMP/RESTORE and RDB files move them between Redust and Redis
//! unchanged.
//!
//! Layout: a 16-byte header, then the registers.
//!
//! * header: `"HYLL"`, the encoding (0 dense, 1 sparse), three zero bytes,
//!   and the cached cardinality as 8 little-endian bytes whose top bit (bit 7
//!   of the last byte) marks the cache as stale.
//! * dense: 16384 six-bit registers packed little-endian: register `i` starts
//!   at bit `6 * i`, its low bits in the low bits of byte `6 * i / 8`.
//! * sparse: run-length opcodes covering all 16384 registers in order:
//!   `00llllll` ZERO (1..=64 zero registers), `01llllll llllllll` XZERO
//!   (1..=16384 zero registers), `1vvvvvll` VAL (1..=4 registers holding
//!   1..=32). A sparse sketch becomes dense when a register needs a value
//!   above 32 or when it would grow past hll-sparse-max-bytes.
//!
//! An element is hashed with MurmurHash64A (seed 0xadc83b19); the low 14 bits
//! pick the register and the register is raised to one plus the number of
//! trailing zero bits of the remaining 50. The cardinality comes from the
//! histogram of register values through Ertl's improved raw estimator
//! ("New cardinality estimation algorithms for HyperLogLog sketches", 2017).
//!
//! Byte-for-byte equality with Redis matters (clients store these strings),
//! so sparse edits follow Redis's observable rules: a run split around the
//! changed register is written with the shortest opcodes, and afterwards up
//! to five opcodes starting at the one before the edit are scanned to fuse
//! adjacent VAL opcodes of equal value.

pub const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
/// Bits of the hash left after the register index.
const Q: usize = 64 - P as usize;
pub const HDR: usize = 16;
pub const DENSE_LEN: usize = HDR + REGISTERS * 6 / 8;
const MAGIC: &[u8; 4] = b"HYLL";
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const SEED: u64 = 0xadc8_3b19;
const ZERO_MAX: usize = 64;
const XZERO_MAX: usize = REGISTERS;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const REG_MAX: u8 = 63;

/// A sketch whose opcodes do not describe exactly 16384 registers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Corrupt;

/// Whether a string is a HyperLogLog Redis would accept (the sparse payload
/// is checked later, by whoever walks it).
pub fn is_valid(b: &[u8]) -> bool {
    b.len() >= HDR && &b[..4] == MAGIC && b[4] <= SPARSE && (b[4] == SPARSE || b.len() == DENSE_LEN)
}

pub fn is_sparse(b: &[u8]) -> bool {
    b[4] == SPARSE
}

/// An empty sketch: sparse, one XZERO run over every register, cache 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&[SPARSE, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    push_zero(&mut v, REGISTERS);
    v
}

// ---------------------------------------------------------------------------
// Cached cardinality
// ---------------------------------------------------------------------------

pub fn cached(b: &[u8]) -> Option<u64> {
    if b[15] & 0x80 != 0 {
        return None;
    }
    let mut c = [0u8; 8];
    c.copy_from_slice(&b[8..16]);
    Some(u64::from_le_bytes(c))
}

pub fn set_cache(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate(b: &mut [u8]) {
    b[15] |= 0x80;
}

// ---------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------

/// MurmurHash64A by Austin Appleby, reading 8-byte blocks little-endian.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for b in &mut blocks {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        let mut k = u64::from_le_bytes(w).wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &c) in tail.iter().enumerate() {
            h ^= (c as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it offers it.
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let h = murmur64a(ele, SEED);
    let index = (h as usize) & (REGISTERS - 1);
    // A sentinel bit past the 50 used ones bounds the count at Q + 1.
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------
// Dense registers
// ---------------------------------------------------------------------------

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (b, fb) = (bit / 8, bit % 8);
    let w = regs[b] as u16 | (regs.get(b + 1).copied().unwrap_or(0) as u16) << 8;
    ((w >> fb) as u8) & REG_MAX
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * 6;
    let (b, fb) = (bit / 8, bit % 8);
    let hi = regs.get(b + 1).copied().unwrap_or(0);
    let mut w = regs[b] as u16 | (hi as u16) << 8;
    w = (w & !((REG_MAX as u16) << fb)) | ((v as u16) << fb);
    regs[b] = w as u8;
    if let Some(x) = regs.get_mut(b + 1) {
        *x = (w >> 8) as u8;
    }
}

/// Raises register `index` of a dense sketch (the whole string) to `count`;
/// true if it changed.
pub fn dense_set(b: &mut [u8], index: usize, count: u8) -> bool {
    let regs = &mut b[HDR..];
    if dense_get(regs, index) >= count {
        return false;
    }
    dense_put(regs, index, count);
    true
}

// ---------------------------------------------------------------------------
// Sparse opcodes
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// A run of zero registers (ZERO or XZERO).
    Zero(usize),
    /// A run of `len` registers holding `value`.
    Val(u8, usize),
}

impl Op {
    fn len(self) -> usize {
        match self {
            Op::Zero(n) | Op::Val(_, n) => n,
        }
    }
}

/// The opcode at byte `p` and its size in bytes. An XZERO cut short by the
/// end of the string reads a zero second byte, as Redis does (its strings
/// are NUL-terminated).
fn op_at(s: &[u8], p: usize) -> (Op, usize) {
    let c = s[p];
    match c >> 6 {
        0 => (Op::Zero((c & 0x3f) as usize + 1), 1),
        1 => {
            let lo = s.get(p + 1).copied().unwrap_or(0) as usize;
            (Op::Zero((((c & 0x3f) as usize) << 8 | lo) + 1), 2)
        }
        _ => (Op::Val(((c >> 2) & 0x1f) + 1, (c & 3) as usize + 1), 1),
    }
}

fn push_zero(out: &mut Vec<u8>, len: usize) {
    if len <= ZERO_MAX {
        out.push((len - 1) as u8);
    } else {
        let l = len.min(XZERO_MAX) - 1;
        out.push(0x40 | (l >> 8) as u8);
        out.push(l as u8);
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len - 1) as u8
}

/// The opcodes of a sparse sketch, in order.
pub fn ops(b: &[u8]) -> impl Iterator<Item = Op> + '_ {
    let mut p = HDR;
    std::iter::from_fn(move || {
        if p >= b.len() {
            return None;
        }
        let (op, n) = op_at(b, p);
        p += n;
        Some(op)
    })
}

/// Calls `f(register, value)` for every non-zero register of a sparse
/// sketch; Corrupt unless its runs cover exactly all the registers.
fn for_each_value(b: &[u8], mut f: impl FnMut(usize, u8)) -> Result<(), Corrupt> {
    let mut idx = 0;
    for op in ops(b) {
        let n = op.len();
        if idx + n > REGISTERS {
            return Err(Corrupt);
        }
        if let Op::Val(v, _) = op {
            (idx..idx + n).for_each(|i| f(i, v));
        }
        idx += n;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Rebuilds a sparse sketch as dense, keeping its header (and so its cached
/// cardinality).
pub fn to_dense(b: &mut Vec<u8>) -> Result<(), Corrupt> {
    if !is_sparse(b) {
        return Ok(());
    }
    let mut d = vec![0u8; DENSE_LEN];
    d[..HDR].copy_from_slice(&b[..HDR]);
    d[4] = DENSE;
    for_each_value(b, |i, v| dense_put(&mut d[HDR..], i, v))?;
    *b = d;
    Ok(())
}

/// Raises register `index` to `count` in a sketch of either encoding; true if
/// it changed. A sparse sketch is promoted to dense when the value does not
/// fit a VAL opcode or the edit would take it past `sparse_max` bytes.
pub fn set(b: &mut Vec<u8>, index: usize, count: u8, sparse_max: usize) -> Result<bool, Corrupt> {
    if !is_sparse(b) {
        return Ok(dense_set(b, index, count));
    }
    if count > VAL_MAX_VALUE {
        return promote_and_set(b, index, count);
    }
    // Find the opcode covering `index`, and the one before it.
    let (mut p, mut first, mut prev) = (HDR, 0usize, None);
    let (op, size) = loop {
        if p >= b.len() {
            return Err(Corrupt);
        }
        let (op, size) = op_at(b, p);
        if index < first + op.len() {
            break (op, size);
        }
        first += op.len();
        prev = Some(p);
        p += size;
    };
    let old = match op {
        Op::Val(v, _) if v >= count => return Ok(false),
        Op::Val(v, _) => v,
        Op::Zero(_) => 0,
    };
    // The run split in up to three: before, the register, after.
    let last = first + op.len() - 1;
    let mut seq = Vec::with_capacity(5);
    let part = |seq: &mut Vec<u8>, len: usize| match op {
        Op::Zero(_) => push_zero(seq, len),
        Op::Val(..) => seq.push(val_byte(old, len)),
    };
    if index > first {
        part(&mut seq, index - first);
    }
    seq.push(val_byte(count, 1));
    if index < last {
        part(&mut seq, last - index);
    }
    if seq.len() > size && b.len() + (seq.len() - size) > sparse_max {
        return promote_and_set(b, index, count);
    }
    // An XZERO cut short by the end (a corrupt sketch) still counts as two
    // bytes, so the string ends up one byte shorter than the opcodes it
    // holds, as in Redis.
    let new_len = b.len() + seq.len() - size;
    b.splice(p..(p + size).min(b.len()), seq);
    b.truncate(new_len);
    fuse_vals(b, prev.unwrap_or(HDR));
    Ok(true)
}

fn promote_and_set(b: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(b)?;
    Ok(dense_set(b, index, count))
}

/// Fuses adjacent VAL opcodes of equal value, scanning five opcodes from
/// byte `p` (a fused pair is looked at again, as it may fuse further).
fn fuse_vals(b: &mut Vec<u8>, mut p: usize) {
    for _ in 0..5 {
        if p >= b.len() {
            return;
        }
        let (op, size) = op_at(b, p);
        let Op::Val(v1, l1) = op else {
            p += size;
            continue;
        };
        if p + 1 < b.len() && b[p + 1] & 0x80 != 0 {
            if let (Op::Val(v2, l2), _) = op_at(b, p + 1) {
                if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                    b[p + 1] = val_byte(v1, l1 + l2);
                    b.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
}

/// Adds an element; true if a register changed.
pub fn add(b: &mut Vec<u8>, ele: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    set(b, index, count, sparse_max)
}

// ---------------------------------------------------------------------------
// Reading registers
// ---------------------------------------------------------------------------

/// Raises each of `max` to the sketch's register (PFMERGE, PFCOUNT of
/// several keys).
pub fn merge_into(b: &[u8], max: &mut [u8; REGISTERS]) -> Result<(), Corrupt> {
    if !is_sparse(b) {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&b[HDR..], i));
        }
        return Ok(());
    }
    for_each_value(b, |i, v| max[i] = max[i].max(v))?;
    Ok(())
}

/// Every register of a dense sketch (PFDEBUG GETREG).
pub fn dense_registers(b: &[u8]) -> impl Iterator<Item = u8> + '_ {
    (0..REGISTERS).map(move |i| dense_get(&b[HDR..], i))
}

/// How many registers hold each value.
fn histogram(b: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut h = [0u32; 64];
    if !is_sparse(b) {
        for v in dense_registers(b) {
            h[v as usize] += 1;
        }
        return Ok(h);
    }
    let mut idx = 0;
    for op in ops(b) {
        match op {
            Op::Zero(n) => h[0] += n as u32,
            Op::Val(v, n) => h[v as usize] += n as u32,
        }
        idx += op.len();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

/// The estimated cardinality of a sketch.
pub fn count(b: &[u8]) -> Result<u64, Corrupt> {
    histogram(b).map(|h| estimate(&h))
}

/// The estimated cardinality of raw registers.
pub fn count_registers(regs: &[u8; REGISTERS]) -> u64 {
    let mut h = [0u32; 64];
    for &v in regs.iter() {
        h[(v & REG_MAX) as usize] += 1;
    }
    estimate(&h)
}

/// Ertl's estimator over the register histogram.
fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    // 1 / (2 ln 2), as a literal so the last bit matches Redis's constant.
    let alpha_inf = 0.721_347_520_444_481_7_f64;
    (alpha_inf * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// PFDEBUG DECODE's text for a sparse sketch: `z:` for ZERO, `Z:` for
/// XZERO, `v:value,len` for VAL.
pub fn describe_sparse(b: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut p = HDR;
    while p < b.len() {
        let (op, size) = op_at(b, p);
        parts.push(match op {
            Op::Zero(n) if size == 1 => format!("z:{n}"),
            Op::Zero(n) => format!("Z:{n}"),
            Op::Val(v, n) => format!("v:{v},{n}"),
        });
        p += size;
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_reference_values() {
        // The empty input with seed 0 mixes to 0; other inputs must not.
        assert_eq!(murmur64a(b"", 0), 0);
        assert_ne!(murmur64a(b"a", 0), murmur64a(b"b", 0));
        assert_ne!(murmur64a(b"12345678", SEED), murmur64a(b"12345679", SEED));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut d = new_sparse();
        to_dense(&mut d).unwrap();
        assert_eq!(d.len(), DENSE_LEN);
        for i in [0, 1, 2, 3, 4, 5, 100, REGISTERS - 2, REGISTERS - 1] {
            assert!(dense_set(&mut d, i, (i % 63) as u8 + 1));
            assert_eq!(dense_get(&d[HDR..], i), (i % 63) as u8 + 1);
        }
        assert_eq!(dense_get(&d[HDR..], 6), 0);
    }

    #[test]
    fn estimates_are_close() {
        let mut s = new_sparse();
        for i in 0..5000 {
            add(&mut s, format!("e{i}").as_bytes(), 3000).unwrap();
        }
        let c = count(&s).unwrap() as f64;
        assert!((c - 5000.0).abs() < 5000.0 * 0.05, "{c}");
    }
}
