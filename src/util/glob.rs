//! Redis-compatible glob-style pattern matching, as used by `KEYS`,
//! `SCAN ... MATCH`, `PSUBSCRIBE`, `CONFIG GET` (with `nocase`), etc.
//!
//! Semantics (verified against Redis 7.0 with `KEYS` / `CONFIG GET`):
//!
//! * `*` matches any run of bytes (including none); consecutive stars are
//!   one star.
//! * `?` matches exactly one byte.
//! * `\x` matches the byte `x` literally. A trailing lone `\` is a literal
//!   backslash.
//! * `[...]` matches one byte out of a set. `[^...]` negates the set (`!` is
//!   *not* a negation marker). Inside the brackets:
//!   - `\x` adds the literal byte `x` (compared case-sensitively even when
//!     `nocase` is set, as Redis does); `\` as the very last pattern byte is a
//!     literal backslash;
//!   - `a-z` is an inclusive range whenever at least three bytes remain,
//!     whatever the third one is (so `[a-]` is the range `]`..`a` and the
//!     bracket stays open). Reversed ranges are swapped (`[z-a]` == `[a-z]`).
//!     Range bounds and the tested byte are compared as *signed* C chars, so
//!     bytes >= 0x80 sort before `\0`. With `nocase` the bounds are lowered
//!     after the swap (`[Z-a]` is then empty, like in Redis);
//!   - `]` closes the set; `[]` is an empty set (matches nothing) and
//!     `[^]` matches any byte;
//!   - an unterminated `[` takes everything up to the end of the pattern as
//!     the set (`[abc` matches one of `a`,`b`,`c`; a final `[` matches
//!     nothing; a final `[^` matches any byte).
//! * An empty subject string matches only the empty pattern (in Redis the
//!   pattern `*` does not match the empty string; `KEYS *` and `SCAN` special
//!   case the lone `*` pattern, callers must do the same if they need it).
//! * Like Redis (>= 7.0.9), a pattern whose match has to go through more than
//!   1000 non-trailing `*` groups never matches (abuse protection).
//!
//! The matcher is iterative with backtracking to the last star only, so it
//! runs in O(len(pattern) * len(string)) worst case, never exponential.

/// Maximum number of nested (non-trailing) star groups Redis allows.
const MAX_STAR_NESTING: usize = 1000;

#[inline]
fn lower(b: u8) -> u8 {
    b.to_ascii_lowercase()
}

/// Match one non-star token starting at `p[i]` against byte `c`.
/// Returns (matched, index of the next token).
#[inline]
fn match_one(p: &[u8], i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let len = p.len();
    match p[i] {
        b'?' => (true, i + 1),
        b'[' => {
            let mut j = i + 1;
            let mut neg = false;
            if j < len && p[j] == b'^' {
                neg = true;
                j += 1;
            }
            let mut matched = false;
            loop {
                if j >= len {
                    // Unterminated: the set runs to the end of the pattern.
                    break;
                }
                let b = p[j];
                if b == b'\\' && j + 1 < len {
                    // Escaped byte inside a set: exact comparison (Redis does
                    // not apply nocase here).
                    if p[j + 1] == c {
                        matched = true;
                    }
                    j += 2;
                } else if b == b']' {
                    j += 1;
                    break;
                } else if len - j >= 3 && p[j + 1] == b'-' {
                    // Range, compared as signed chars like C does.
                    let mut start = p[j] as i8 as i32;
                    let mut end = p[j + 2] as i8 as i32;
                    let mut cc = c as i8 as i32;
                    if start > end {
                        std::mem::swap(&mut start, &mut end);
                    }
                    if nocase {
                        start = lower_signed(start);
                        end = lower_signed(end);
                        cc = lower_signed(cc);
                    }
                    if cc >= start && cc <= end {
                        matched = true;
                    }
                    j += 3;
                } else {
                    if eq(b, c, nocase) {
                        matched = true;
                    }
                    j += 1;
                }
            }
            (matched != neg, j)
        }
        b'\\' if i + 1 < len => (eq(p[i + 1], c, nocase), i + 2),
        b => (eq(b, c, nocase), i + 1),
    }
}

#[inline]
fn lower_signed(v: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&v) {
        v + 32
    } else {
        v
    }
}

#[inline]
fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        lower(a) == lower(b)
    } else {
        a == b
    }
}

/// Index just past the token starting at `p[i]` (which is not `*`).
fn skip_token(p: &[u8], i: usize) -> usize {
    match_one(p, i, 0, false).1
}

/// Number of star groups that are followed by at least one non-star token.
fn nontrailing_star_groups(p: &[u8]) -> usize {
    let mut i = 0;
    let mut groups = 0;
    let mut pending = false;
    while i < p.len() {
        if p[i] == b'*' {
            pending = true;
            i += 1;
        } else {
            if pending {
                groups += 1;
                pending = false;
            }
            i = skip_token(p, i);
        }
    }
    groups
}

/// Redis glob-style match of `s` against `pattern`. Binary safe.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let p = pattern;
    if s.is_empty() {
        return p.is_empty();
    }
    // Abuse protection (only possible with many stars).
    if p.len() > MAX_STAR_NESTING
        && p.iter().filter(|&&b| b == b'*').count() > MAX_STAR_NESTING
        && nontrailing_star_groups(p) > MAX_STAR_NESTING
    {
        return false;
    }

    let mut pi = 0usize;
    let mut si = 0usize;
    // Pattern index just after the last star group seen, and the string
    // index that star group is currently assumed to stop at.
    let mut star_p: Option<usize> = None;
    let mut star_s = 0usize;

    loop {
        if pi < p.len() {
            if p[pi] == b'*' {
                while pi < p.len() && p[pi] == b'*' {
                    pi += 1;
                }
                if pi == p.len() {
                    return true;
                }
                star_p = Some(pi);
                star_s = si;
                continue;
            }
            if si < s.len() {
                let (ok, next) = match_one(p, pi, s[si], nocase);
                if ok {
                    pi = next;
                    si += 1;
                    continue;
                }
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more byte.
        match star_p {
            Some(sp) if star_s < s.len() => {
                star_s += 1;
                si = star_s;
                pi = sp;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }
    fn mi(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), true)
    }

    #[test]
    fn basics() {
        assert!(m("*", "abc"));
        assert!(m("a*", "a"));
        assert!(m("a*", "abc"));
        assert!(m("*c", "abc"));
        assert!(m("a*c", "ac"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbcd"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abd"));
        assert!(!m("abc", "ab"));
        assert!(!m("ab", "abc"));
    }

    #[test]
    fn empty_string_only_matches_empty_pattern() {
        // Redis: stringmatch("*", "") is false (KEYS * special-cases it).
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("?", ""));
        assert!(m("", ""));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "a"));
        assert!(m("\\\\", "\\"));
        assert!(m("\\", "\\")); // lone trailing backslash is literal
        assert!(m("*\\", "ab\\"));
        assert!(m("a\\[b", "a[b"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\^a]", "^"));
        assert!(m("[\\-]", "-"));
        assert!(m("[\\", "\\")); // unterminated, trailing backslash literal
        assert!(m("[\\a-z]", "-"));
        assert!(m("[\\a-z]", "z"));
        assert!(!m("[\\a-z]", "b"));
    }

    #[test]
    fn brackets_edge_cases() {
        // Unterminated brackets.
        assert!(!m("[", "["));
        assert!(!m("[", "a"));
        assert!(m("[^", "a"));
        assert!(m("a[^", "ab"));
        assert!(!m("a[^", "a"));
        assert!(m("[abc", "a"));
        assert!(m("[abc", "c"));
        assert!(!m("[abc", "ab"));
        assert!(m("[a-c", "b"));
        assert!(m("[a-", "-"));
        assert!(m("[a-", "a"));
        assert!(!m("[a-", "b"));
        // Empty sets.
        assert!(!m("[]", "a"));
        assert!(!m("[]", "]"));
        assert!(m("[^]", "a"));
        assert!(m("[^]", "]"));
        assert!(!m("[]]", "]"));
        assert!(!m("[]]", "x]"));
        // `[a-]` is a range from ']' to 'a' and leaves the bracket open.
        assert!(m("[a-]", "]"));
        assert!(m("[a-]", "^"));
        assert!(m("[a-]", "_"));
        assert!(m("[a-]", "a"));
        assert!(!m("[a-]", "b"));
        assert!(!m("[a-]", "-"));
        // `!` is not a negation.
        assert!(m("[!a]", "!"));
        assert!(m("[!a]", "a"));
        assert!(!m("[!a]", "b"));
        // Reversed ranges.
        assert!(m("[c-a]", "b"));
        assert!(m("[z-a]", "m"));
        assert!(!m("[z-a]", "A"));
        // Special chars inside brackets are literals.
        assert!(m("[*?]", "*"));
        assert!(m("[*?]", "?"));
        assert!(!m("[*?]", "a"));
        assert!(m("[[]", "["));
        assert!(m("[a^]", "^"));
        assert!(m("[-a]", "-"));
        assert!(m("[a-c-e]", "-"));
        assert!(m("[a-c-e]", "e"));
        assert!(!m("[a-c-e]", "d"));
    }

    #[test]
    fn nocase() {
        assert!(mi("HELLO", "hello"));
        assert!(mi("h*O", "HellO"));
        assert!(mi("[H]ello", "hello"));
        assert!(mi("[L-N]axmemory", "maxmemory"));
        assert!(mi("\\Maxmemor?", "maxmemory"));
        // Escaped bytes inside brackets are compared exactly.
        assert!(!mi("[\\M]axmemory", "maxmemory"));
        assert!(mi("[^\\M]axmemory", "maxmemory"));
        // Swap happens before lowering: [Z-a] and [a-Z] become z..a (empty).
        assert!(!mi("[Z-a]axmemory", "maxmemory"));
        assert!(!mi("[a-Z]axmemory", "maxmemory"));
        assert!(!m("HELLO", "hello"));
    }

    #[test]
    fn binary_and_signed_ranges() {
        assert!(glob_match(b"a\x00b", b"a\x00b", false));
        assert!(glob_match(b"a?b", b"a\x00b", false));
        assert!(glob_match(b"*\xff", b"\x01\x02\xff", false));
        assert!(glob_match(b"[\x80-\xff]", b"\x90", false));
        // Signed chars: 0xff (-1) .. 'a' covers 0xff, 0x00..'a' but not 0x80.
        assert!(glob_match(b"[a-\xff]", b"\xff", false));
        assert!(glob_match(b"[a-\xff]", b"\x00", false));
        assert!(glob_match(b"[a-\xff]", b"Z", false));
        assert!(!glob_match(b"[a-\xff]", b"\x80", false));
        assert!(!glob_match(b"[a-\xff]", b"b", false));
        // Verified with KEYS on Redis 7.0: [\x00-\x80] is -128..0,
        // [\x7f-\x80] is -128..127 (everything).
        assert!(glob_match(b"[\x00-\x80]", b"\xff", false));
        assert!(glob_match(b"[\x00-\x80]", b"\x80", false));
        assert!(!glob_match(b"[\x00-\x80]", b"a", false));
        assert!(glob_match(b"[\x7f-\x80]", b"b", false));
        assert!(glob_match(b"[\x7f-\x80]", b"\xff", false));
    }

    #[test]
    fn star_nesting_limit() {
        let mk = |n: usize| {
            let p: Vec<u8> = b"*a".repeat(n);
            let s = vec![b'a'; n];
            glob_match(&p, &s, false)
        };
        assert!(mk(1000));
        assert!(!mk(1001));
        // Trailing star group does not count.
        let mut p: Vec<u8> = b"*a".repeat(1000);
        p.push(b'*');
        assert!(glob_match(&p, &vec![b'a'; 1005], false));
        // Stars inside brackets / escaped do not count.
        let p: Vec<u8> = b"[*]".repeat(1500);
        assert!(glob_match(&p, &vec![b'*'; 1500], false));
    }

    #[test]
    fn no_exponential_blowup() {
        let s = vec![b'a'; 100_000];
        let start = std::time::Instant::now();
        assert!(!glob_match(b"*a*a*a*a*a*a*a*a*a*a*a*a*b", &s, false));
        assert!(!glob_match(b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*?b", &s, false));
        assert!(glob_match(b"*a*a*a*a*a*a*a*a*a*a*a*a*", &s, false));
        let mut p = Vec::new();
        for _ in 0..50 {
            p.extend_from_slice(b"*[a-z]");
        }
        p.push(b'b');
        assert!(!glob_match(&p, &s[..10_000], false));
        assert!(start.elapsed().as_secs() < 5);
    }

    /// Simple exponential reference implementation over the same token
    /// semantics, used to cross-check the iterative matcher.
    fn reference(p: &[u8], s: &[u8], nocase: bool) -> bool {
        fn rec(p: &[u8], pi: usize, s: &[u8], si: usize, nocase: bool) -> bool {
            if pi == p.len() {
                return si == s.len();
            }
            if p[pi] == b'*' {
                let mut np = pi;
                while np < p.len() && p[np] == b'*' {
                    np += 1;
                }
                (si..=s.len()).any(|k| rec(p, np, s, k, nocase))
            } else {
                if si == s.len() {
                    return false;
                }
                let (ok, next) = match_one(p, pi, s[si], nocase);
                ok && rec(p, next, s, si + 1, nocase)
            }
        }
        if s.is_empty() {
            return p.is_empty();
        }
        rec(p, 0, s, 0, nocase)
    }

    #[test]
    fn cross_check_with_reference() {
        // Deterministic pseudo-random generator (xorshift).
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let palpha = b"ab*?[]^-\\zA";
        let salpha = b"ab-]^\\zA*";
        for _ in 0..200_000 {
            let plen = (next() % 8) as usize;
            let slen = (next() % 7) as usize;
            let p: Vec<u8> = (0..plen)
                .map(|_| palpha[(next() % palpha.len() as u64) as usize])
                .collect();
            let s: Vec<u8> = (0..slen)
                .map(|_| salpha[(next() % salpha.len() as u64) as usize])
                .collect();
            let nocase = next() % 2 == 0;
            assert_eq!(
                glob_match(&p, &s, nocase),
                reference(&p, &s, nocase),
                "pattern {:?} string {:?} nocase {}",
                String::from_utf8_lossy(&p),
                String::from_utf8_lossy(&s),
                nocase
            );
        }
    }
}
