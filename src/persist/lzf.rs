//! LZF compression as used by RDB files for long strings (the liblzf
//! format): a control byte below 32 starts a run of ctrl+1 literal bytes;
//! otherwise its top three bits (plus an extra byte when they are all set)
//! give a back-reference length and the low five bits plus the next byte an
//! offset of up to 8 KiB.

const MAX_OFF: usize = 1 << 13;
const MAX_LIT: usize = 1 << 5;
const MAX_REF: usize = (1 << 8) + (1 << 3);
const HASH_BITS: u32 = 14;

/// Compresses `input`; None when the result would not be smaller than
/// `max_out` bytes (the caller then stores the string as it is).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(max_out.min(n + n / 16 + 64));
    // The hash table is sized to the input: RDB saves compress millions of
    // short strings, and clearing a fixed 16K-entry table for each would
    // cost far more than compressing them.
    let bits = (usize::BITS - n.leading_zeros()).clamp(8, HASH_BITS);
    let mut table = vec![u32::MAX; 1 << bits];
    let mut lit_start = 0usize;
    let mut i = 0usize;
    let hash = |p: usize| -> usize {
        let v = (input[p] as u32) << 16 | (input[p + 1] as u32) << 8 | input[p + 2] as u32;
        (v.wrapping_mul(2654435761) >> (32 - bits)) as usize
    };
    let flush_literals = |out: &mut Vec<u8>, from: usize, to: usize| {
        let mut s = from;
        while s < to {
            let run = (to - s).min(MAX_LIT);
            out.push((run - 1) as u8);
            out.extend_from_slice(&input[s..s + run]);
            s += run;
        }
    };
    while i + 2 < n {
        let h = hash(i);
        let r = table[h] as usize;
        table[h] = i as u32;
        if r != u32::MAX as usize && i > r && i - r <= MAX_OFF && input[r..r + 3] == input[i..i + 3]
        {
            let off = i - r - 1;
            let mut len = 3;
            let max = (n - i).min(MAX_REF);
            while len < max && input[r + len] == input[i + len] {
                len += 1;
            }
            flush_literals(&mut out, lit_start, i);
            let l = len - 2;
            if l < 7 {
                out.push(((l << 5) | (off >> 8)) as u8);
            } else {
                out.push(((7 << 5) | (off >> 8)) as u8);
                out.push((l - 7) as u8);
            }
            out.push((off & 0xff) as u8);
            i += len;
            lit_start = i;
            if out.len() >= max_out {
                return None;
            }
        } else {
            i += 1;
        }
    }
    flush_literals(&mut out, lit_start, n);
    (out.len() < max_out).then_some(out)
}

/// Decompresses into exactly `expected` bytes; None on malformed input.
pub fn decompress(input: &[u8], expected: usize) -> Option<Vec<u8>> {
    // `expected` comes from the file: no more than the input can expand to
    // (a 3-byte back reference yields at most 264 bytes).
    if expected > input.len().saturating_mul(88).saturating_add(32) {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(expected);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run)?;
            if out.len() + run > expected {
                return None;
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            len += 2;
            if back > out.len() || out.len() + len > expected {
                return None;
            }
            let start = out.len() - back;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == expected).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let cases: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello hello hello hello hello world world world".repeat(50),
            (0..5000u32).map(|i| (i * 7 % 251) as u8).collect(),
            vec![0u8; 100_000],
        ];
        for c in cases {
            let z = compress(&c, c.len()).expect("compressible");
            assert!(z.len() < c.len());
            assert_eq!(decompress(&z, c.len()).as_deref(), Some(&c[..]));
        }
        // Random bytes do not shrink.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let r: Vec<u8> = (0..1000).map(|_| rng.gen()).collect();
        assert!(compress(&r, r.len()).is_none());
        assert!(decompress(&[0xff], 10).is_none());
    }
}
