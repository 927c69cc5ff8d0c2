//! Bitmap commands: strings addressed bit by bit (SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP, BITFIELD, BITFIELD_RO).
//!
//! Bit 0 is the most significant bit of byte 0, as in Redis, so a bitmap
//! built here reads back the same bytes with GET anywhere. Writes edit the
//! string's raw buffer in place (SETBIT is O(1)); reads past the end of a
//! string see zeros.

use bytes::Bytes;

use super::strings::{max_len, read_str, write_str};
use super::{cmd, int_arg, is, Command, Keys, C_BITMAP, DENYOOM, FAST, KEY1, READONLY, WRITE};
use crate::db::thin::{ThinBuf, MAX_LEN};
use crate::db::{StrVal, Value};
use crate::errors::{self, CmdResult, Error};
use crate::server::{notify, Ctx};
use crate::util::num::parse_i64;

const G: &str = "bitmap";

pub static COMMANDS: &[Command] = &[
    cmd("setbit", 4, WRITE | DENYOOM, KEY1, C_BITMAP, setbit, G, "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."),
    cmd("getbit", 3, READONLY | FAST, KEY1, C_BITMAP, getbit, G, "2.2.0", "Returns a bit value by offset."),
    cmd("bitcount", -2, READONLY, KEY1, C_BITMAP, bitcount, G, "2.6.0", "Counts the number of set bits (population counting) in a string."),
    cmd("bitpos", -3, READONLY, KEY1, C_BITMAP, bitpos, G, "2.8.7", "Finds the first set (1) or clear (0) bit in a string."),
    cmd("bitop", -4, WRITE | DENYOOM, Keys { first: 2, last: -1, step: 1 }, C_BITMAP, bitop, G, "2.6.0", "Performs bitwise operations on multiple strings, and stores the result."),
    cmd("bitfield", -2, WRITE | DENYOOM, KEY1, C_BITMAP, bitfield, G, "3.2.0", "Performs arbitrary bitfield integer operations on strings."),
    cmd("bitfield_ro", -2, READONLY | FAST, KEY1, C_BITMAP, bitfield_ro, G, "6.0.0", "Performs arbitrary read-only bitfield integer operations on strings."),
];

/// A bit offset argument. With `field_bits` (BITFIELD), `#n` means the n-th
/// field of that width. Like Redis, the byte holding the offset must be
/// below proto-max-bulk-len; `#n` multiplies with two's complement wrap.
fn bit_offset(arg: &[u8], field_bits: Option<u32>, limit: usize) -> Result<u64, Error> {
    let err = || Error::msg(errors::BIT_OFFSET);
    let (digits, mul) = match field_bits {
        Some(bits) if arg.first() == Some(&b'#') => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let v = parse_i64(digits).ok_or_else(err)?.wrapping_mul(mul);
    if v < 0 || (v >> 3) as u64 >= limit as u64 {
        return Err(err());
    }
    Ok(v as u64)
}

fn bit_at(b: &[u8], off: u64) -> bool {
    let byte = (off >> 3) as usize;
    byte < b.len() && b[byte] & (0x80 >> (off & 7)) != 0
}

fn set_bit_at(b: &mut [u8], off: u64, on: bool) {
    let mask = 0x80u8 >> (off & 7);
    let byte = &mut b[(off >> 3) as usize];
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

/// The string at `key` as a raw buffer of at least `len` bytes, created or
/// zero-extended as needed, for in-place edits. Also says whether it was
/// created or grown (a change even if no bit flips).
fn bits_mut<'a>(
    ctx: &'a mut Ctx,
    key: &[u8],
    len: usize,
) -> Result<(&'a mut ThinBuf, bool), Error> {
    if len > MAX_LEN {
        return Err(Error::msg(errors::STRING_TOO_LONG));
    }
    let now = ctx.now_ms;
    if write_str(ctx, key)?.is_none() {
        let mut b = ThinBuf::with_capacity(len);
        b.zero_extend(len);
        ctx.db().add(key, Value::Str(StrVal::Raw(b)), now);
        let s = ctx.db().entry_mut(key).and_then(|e| e.val.as_str_mut());
        return Ok((s.ok_or(Error::WrongType)?.make_raw(), true));
    }
    let s = ctx.db().entry_mut(key).and_then(|e| e.val.as_str_mut());
    let b = s.ok_or(Error::WrongType)?.make_raw();
    let grown = b.len() < len;
    b.zero_extend(len);
    Ok((b, grown))
}

fn setbit(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let off = bit_offset(&a[2], None, max_len(ctx))?;
    let on = match parse_i64(&a[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(Error::msg(errors::BIT_VALUE)),
    };
    let (b, grown) = bits_mut(ctx, &a[1], (off >> 3) as usize + 1)?;
    let b = b.as_mut_slice();
    let old = bit_at(b, off);
    set_bit_at(b, off, on);
    // Redis counts a change only when the string grew or the bit flipped.
    if grown || old != on {
        ctx.dirty(1);
        ctx.notify(notify::STRING, "setbit", &a[1]);
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let off = bit_offset(&a[2], None, max_len(ctx))?;
    let bit = read_str(ctx, &a[1])?.is_some_and(|s| bit_at(&s.as_bytes(), off));
    ctx.out.int(bit as i64);
    Ok(())
}

/// The optional BYTE|BIT unit argument: true for BIT.
fn bit_unit(arg: Option<&Bytes>) -> Result<bool, Error> {
    match arg {
        None => Ok(false),
        Some(u) if is(u, "byte") => Ok(false),
        Some(u) if is(u, "bit") => Ok(true),
        Some(_) => Err(Error::Syntax),
    }
}

/// Resolves an inclusive start..end range over `total` units: negative
/// indexes count from the end, then both are clamped into the string.
/// None when the range is empty.
fn resolve_range(start: i64, end: i64, total: i64) -> Option<(u64, u64)> {
    let start = if start < 0 { start + total } else { start }.max(0);
    let end = if end < 0 { end + total } else { end }
        .max(0)
        .min(total - 1);
    (start <= end).then_some((start as u64, end as u64))
}

/// A range given in bytes or bits, as bit positions first..=last.
fn bit_range(start: u64, end: u64, in_bits: bool) -> (u64, u64) {
    if in_bits {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    }
}

fn bitcount(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let range = match a.len() {
        2 => None,
        4 | 5 => Some((int_arg(&a[2])?, int_arg(&a[3])?, bit_unit(a.get(4))?)),
        _ => return Err(Error::Syntax),
    };
    let Some(s) = read_str(ctx, &a[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    let b = s.as_bytes();
    let n = match range {
        None => popcount(&b),
        Some((start, end, in_bits)) => {
            let total = b.len() as i64 * if in_bits { 8 } else { 1 };
            // Unlike BITPOS, BITCOUNT treats two negative indexes in the
            // wrong order as empty before clamping them.
            let reversed = start < 0 && end < 0 && start > end;
            match resolve_range(start, end, total).filter(|_| !reversed) {
                None => 0,
                Some((s, e)) => {
                    let (first, last) = bit_range(s, e, in_bits);
                    count_bits(&b, first, last)
                }
            }
        }
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// Set bits in bit positions first..=last (within `b`).
fn count_bits(b: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let before = b[fb] & !(0xffu8 >> (first & 7));
    let after = b[lb] & ((1u16 << (7 - (last & 7))) - 1) as u8;
    popcount(&b[fb..=lb]) - before.count_ones() as u64 - after.count_ones() as u64
}

/// Population count, eight bytes at a time (with the POPCNT instruction
/// where the CPU has it).
fn popcount(b: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("popcnt") {
        // Safety: the CPU supports the feature the function is compiled for.
        return unsafe { popcount_hw(b) };
    }
    popcount_words(b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn popcount_hw(b: &[u8]) -> u64 {
    popcount_words(b)
}

#[inline(always)]
fn popcount_words(b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(32);
    let mut n = 0u64;
    for c in chunks.by_ref() {
        for w in c.chunks_exact(8) {
            let mut x = [0u8; 8];
            x.copy_from_slice(w);
            n += u64::from_ne_bytes(x).count_ones() as u64;
        }
    }
    n + chunks
        .remainder()
        .iter()
        .map(|x| x.count_ones() as u64)
        .sum::<u64>()
}

fn bitpos(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let bit = match int_arg(&a[2])? {
        0 => false,
        1 => true,
        _ => return Err(Error::msg(errors::BITPOS_BIT)),
    };
    let (start, end, in_bits) = match a.len() {
        3 => (0, None, false),
        // Redis checks the unit before the end.
        4..=6 => {
            let start = int_arg(&a[3])?;
            let in_bits = bit_unit(a.get(5))?;
            (start, a.get(4).map(|e| int_arg(e)).transpose()?, in_bits)
        }
        _ => return Err(Error::Syntax),
    };
    let Some(s) = read_str(ctx, &a[1])? else {
        // A missing key is an endless run of zeros.
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let b = s.as_bytes();
    let total = b.len() as i64 * if in_bits { 8 } else { 1 };
    let pos = match resolve_range(start, end.unwrap_or(-1), total) {
        None => -1,
        Some((s, e)) => {
            let (first, last) = bit_range(s, e, in_bits);
            match find_bit(&b, first, last, bit) {
                Some(p) => p as i64,
                // Without an explicit end, the string counts as padded with
                // zeros on the right, so the first clear bit is just past it.
                None if !bit && end.is_none() => last as i64 + 1,
                None => -1,
            }
        }
    };
    ctx.out.int(pos);
    Ok(())
}

/// First position in first..=last (within `b`) whose bit equals `bit`.
fn find_bit(b: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
    let mut i = first;
    while i <= last && i & 7 != 0 {
        if bit_at(b, i) == bit {
            return Some(i);
        }
        i += 1;
    }
    // Whole bytes: skip the ones that cannot hold the bit, a word at a time.
    let skip = if bit { 0u8 } else { 0xff };
    let (lo, hi) = ((i >> 3) as usize, ((last + 1) >> 3) as usize);
    if lo < hi {
        let bytes = &b[lo..hi];
        let word = u64::from_ne_bytes([skip; 8]);
        let mut k = 0;
        while k + 8 <= bytes.len() {
            let mut x = [0u8; 8];
            x.copy_from_slice(&bytes[k..k + 8]);
            if u64::from_ne_bytes(x) != word {
                break;
            }
            k += 8;
        }
        if let Some(j) = bytes[k..].iter().position(|&x| x != skip) {
            let x = if bit { bytes[k + j] } else { !bytes[k + j] };
            return Some(((lo + k + j) as u64) * 8 + x.leading_zeros() as u64);
        }
        i = hi as u64 * 8;
    }
    (i..=last).find(|&p| bit_at(b, p) == bit)
}

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let op = if is(&a[1], "and") {
        BitOp::And
    } else if is(&a[1], "or") {
        BitOp::Or
    } else if is(&a[1], "xor") {
        BitOp::Xor
    } else if is(&a[1], "not") {
        BitOp::Not
    } else {
        return Err(Error::Syntax);
    };
    let (dest, srcs) = (&a[2], &a[3..]);
    if op == BitOp::Not && srcs.len() != 1 {
        return Err(Error::msg(errors::BITOP_NOT));
    }
    // Fold the sources into `res` one by one; a missing key is an empty
    // string, and shorter strings count as padded with zeros.
    let mut res: Vec<u8> = Vec::new();
    for (i, k) in srcs.iter().enumerate() {
        let s = read_str(ctx, k)?;
        let src = s.as_ref().map(|s| s.as_bytes()).unwrap_or_default();
        if i == 0 {
            res = src.into_owned();
            if op == BitOp::Not {
                res.iter_mut().for_each(|x| *x = !*x);
            }
            continue;
        }
        let common = res.len().min(src.len());
        let (head, tail) = (&src[..common], &src[common..]);
        match op {
            BitOp::And => {
                res.iter_mut().zip(head).for_each(|(r, s)| *r &= s);
                res[common..].iter_mut().for_each(|r| *r = 0);
                res.resize(res.len().max(src.len()), 0);
            }
            BitOp::Or => {
                res.iter_mut().zip(head).for_each(|(r, s)| *r |= s);
                res.extend_from_slice(tail);
            }
            BitOp::Xor => {
                res.iter_mut().zip(head).for_each(|(r, s)| *r ^= s);
                res.extend_from_slice(tail);
            }
            BitOp::Not => {}
        }
    }
    let now = ctx.now_ms;
    let len = res.len();
    if res.is_empty() {
        if ctx.db().remove(dest).is_some() {
            ctx.dirty(1);
            ctx.notify(notify::GENERIC, "del", dest);
        }
    } else {
        // Redis stores the result raw, never as an integer or embstr.
        let v = Value::Str(StrVal::Raw(ThinBuf::from_slice(&res)));
        ctx.db().set(dest, v, false, now);
        ctx.dirty(1);
        ctx.notify(notify::STRING, "set", dest);
    }
    ctx.out.int(len as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy)]
enum FieldOp {
    Get,
    Set(i64),
    Incr(i64),
}

/// One GET/SET/INCRBY of a BITFIELD call, with the overflow policy in force.
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

impl Field {
    fn range(&self) -> (i128, i128) {
        if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        }
    }

    fn read(&self, b: &[u8]) -> i64 {
        let mut raw = 0u64;
        for i in 0..self.bits as u64 {
            raw = (raw << 1) | bit_at(b, self.offset + i) as u64;
        }
        if self.signed {
            let shift = 64 - self.bits;
            ((raw << shift) as i64) >> shift
        } else {
            raw as i64
        }
    }

    fn write(&self, b: &mut [u8], v: i64) {
        let v = v as u64;
        for i in 0..self.bits as u64 {
            let on = (v >> (self.bits as u64 - 1 - i)) & 1 != 0;
            set_bit_at(b, self.offset + i, on);
        }
    }

    /// `cur + incr` fitted into the field by the overflow policy; None when
    /// it does not fit and the policy is FAIL.
    fn fit(&self, cur: i128, incr: i128) -> Option<i64> {
        let (min, max) = self.range();
        let sum = cur + incr;
        let v = if (min..=max).contains(&sum) {
            sum
        } else {
            match self.overflow {
                Overflow::Fail => return None,
                Overflow::Sat => sum.clamp(min, max),
                Overflow::Wrap => {
                    let m = sum.rem_euclid(1i128 << self.bits);
                    if m > max {
                        m - (1i128 << self.bits)
                    } else {
                        m
                    }
                }
            }
        };
        Some(v as i64)
    }
}

/// `i<bits>` (up to 64) or `u<bits>` (up to 63).
fn field_type(arg: &[u8]) -> Result<(bool, u32), Error> {
    let err = || Error::msg(errors::BITFIELD_TYPE);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let bits = parse_i64(&arg[1..]).ok_or_else(err)?;
    if bits < 1 || bits > if signed { 64 } else { 63 } {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

/// Parses every subcommand before anything runs, so a bad one anywhere
/// leaves the string untouched.
fn parse_fields(a: &[Bytes], limit: usize) -> Result<Vec<Field>, Error> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < a.len() {
        let rest = a.len() - j - 1;
        let sub = &a[j];
        let op = if is(sub, "get") && rest >= 2 {
            FieldOp::Get
        } else if (is(sub, "set") || is(sub, "incrby")) && rest >= 3 {
            FieldOp::Set(0)
        } else if is(sub, "overflow") && rest >= 1 {
            let o = &a[j + 1];
            overflow = if is(o, "wrap") {
                Overflow::Wrap
            } else if is(o, "sat") {
                Overflow::Sat
            } else if is(o, "fail") {
                Overflow::Fail
            } else {
                return Err(Error::msg(errors::BITFIELD_OVERFLOW));
            };
            j += 2;
            continue;
        } else {
            return Err(Error::Syntax);
        };
        let (signed, bits) = field_type(&a[j + 1])?;
        let offset = bit_offset(&a[j + 2], Some(bits), limit)?;
        let op = match op {
            FieldOp::Get => FieldOp::Get,
            _ if is(sub, "set") => FieldOp::Set(int_arg(&a[j + 3])?),
            _ => FieldOp::Incr(int_arg(&a[j + 3])?),
        };
        j += if matches!(op, FieldOp::Get) { 3 } else { 4 };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
    }
    Ok(fields)
}

fn bitfield(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, a, false)
}

fn bitfield_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, a, true)
}

fn bitfield_generic(ctx: &mut Ctx, a: &[Bytes], read_only: bool) -> CmdResult {
    let fields = parse_fields(a, max_len(ctx))?;
    let writes = fields.iter().filter(|f| !matches!(f.op, FieldOp::Get));
    let Some(end_bit) = writes.map(|f| f.offset + f.bits as u64).max() else {
        // Only GETs: the key is neither created nor grown.
        let s = read_str(ctx, &a[1])?;
        let b = s.as_ref().map(|s| s.as_bytes()).unwrap_or_default();
        let vals: Vec<i64> = fields.iter().map(|f| f.read(&b)).collect();
        ctx.out.array(vals.len());
        vals.into_iter().for_each(|v| ctx.out.int(v));
        return Ok(());
    };
    if read_only {
        return Err(Error::msg(errors::BITFIELD_RO));
    }
    let (buf, grown) = bits_mut(ctx, &a[1], end_bit.div_ceil(8) as usize)?;
    let b = buf.as_mut_slice();
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(fields.len());
    let mut changes = 0;
    for f in &fields {
        let old = f.read(b);
        let new = match f.op {
            FieldOp::Get => {
                replies.push(Some(old));
                continue;
            }
            // SET checks the value itself against the field's range; an
            // unsigned field sees a negative value as its 64-bit pattern.
            FieldOp::Set(v) => {
                let max = f.range().1;
                // Redis measures a signed field's headroom `max - v` in 64
                // bits; where that wraps (v within `max` of i64::MIN), SAT
                // takes the value as too big and stores the maximum.
                let quirk = f.signed
                    && f.bits < 64
                    && f.overflow == Overflow::Sat
                    && (v as i128) < max - i64::MAX as i128;
                let v = if f.signed {
                    v as i128
                } else {
                    v as u64 as i128
                };
                let new = if quirk { Some(max as i64) } else { f.fit(v, 0) };
                replies.push(new.map(|_| old));
                new
            }
            FieldOp::Incr(by) => {
                let new = f.fit(old as i128, by as i128);
                replies.push(new);
                new
            }
        };
        if let Some(v) = new {
            f.write(b, v);
            // A write counts when it changed the field or the string had
            // to be created or grown for it; a failed one never does.
            if v != old || grown {
                changes += 1;
            }
        }
    }
    if changes > 0 {
        ctx.dirty(changes);
        ctx.notify(notify::STRING, "setbit", &a[1]);
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_counts() {
        assert_eq!(resolve_range(0, -1, 3), Some((0, 2)));
        assert_eq!(
            resolve_range(-1, -2, 3),
            Some((2, 1)).filter(|(s, e)| s <= e)
        );
        assert_eq!(resolve_range(-30, -40, 3), Some((0, 0)));
        assert_eq!(resolve_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(resolve_range(0, -1, 0), None);
        let b = [0xffu8, 0xf0, 0x0f];
        assert_eq!(count_bits(&b, 5, 22), 10);
        assert_eq!(count_bits(&b, 0, 0), 1);
        assert_eq!(popcount(&[0xff; 100]), 800);
    }

    #[test]
    fn finds_bits() {
        let b = [0xffu8, 0xf0, 0x00];
        assert_eq!(find_bit(&b, 0, 23, false), Some(12));
        assert_eq!(find_bit(&b, 0, 23, true), Some(0));
        assert_eq!(find_bit(&b, 12, 23, true), None);
        let ones = [0xffu8; 40];
        assert_eq!(find_bit(&ones, 3, 319, false), None);
        let mut z = [0u8; 40];
        z[37] = 1;
        assert_eq!(find_bit(&z, 1, 319, true), Some(37 * 8 + 7));
    }

    #[test]
    fn field_overflow() {
        let f = Field {
            op: FieldOp::Get,
            signed: false,
            bits: 8,
            offset: 0,
            overflow: Overflow::Wrap,
        };
        assert_eq!(f.fit(250, 10), Some(4));
        assert_eq!(f.fit(u64::MAX as i128, 0), Some(255));
        let f = Field {
            signed: true,
            overflow: Overflow::Sat,
            ..f
        };
        assert_eq!(f.fit(100, 100), Some(127));
        assert_eq!(f.fit(-100, -100), Some(-128));
        let f = Field {
            signed: true,
            bits: 64,
            overflow: Overflow::Wrap,
            ..f
        };
        assert_eq!(f.fit(i64::MAX as i128, 1), Some(i64::MIN));
    }
}
