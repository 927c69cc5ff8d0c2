//! Request parser: turns the bytes a client sent into commands.
//!
//! Pure functions, no I/O, so it can be fuzzed and property-tested. The parser
//! never blocks: given a prefix of a request it answers `Incomplete` with a
//! hint of how many bytes must be buffered before it is worth trying again,
//! which keeps re-parsing of big bulk strings linear.

use memchr::memchr;

/// Inline requests and the `*<n>` / `$<n>` header lines may not grow past
/// this without a newline, as in Redis (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Multibulk counts above this are refused (Redis uses INT_MAX).
pub const MAX_MULTIBULK: i64 = i32::MAX as i64;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// proto-max-bulk-len
    pub max_bulk: i64,
    /// Before authentication Redis refuses requests with more than 10
    /// arguments or bulk strings longer than 16 KiB.
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk: 512 * 1024 * 1024, authenticated: true }
    }
}

/// The error text after `-ERR ` Redis sends before closing the connection.
/// Bytes, because it may quote the offending (non-UTF-8) byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub Vec<u8>);

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// One request; `args` holds (start, end) offsets into the buffer, and
    /// `consumed` bytes may be dropped. An empty `args` is a request Redis
    /// ignores (empty inline line, `*0`, `*-1`).
    Complete { consumed: usize },
    /// Need more bytes; at least `need` in total before a retry can succeed.
    Incomplete { need: usize },
}

/// Parse one request at the start of `buf`. On `Complete`, `args` holds the
/// argument ranges (cleared first).
pub fn parse_request(
    buf: &[u8],
    lim: &Limits,
    args: &mut Vec<(usize, usize)>,
) -> Result<Parsed, ProtocolError> {
    args.clear();
    if buf.is_empty() {
        return Ok(Parsed::Incomplete { need: 1 });
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, lim, args)
    } else {
        parse_inline(buf, args)
    }
}

fn proto_err(msg: &str) -> ProtocolError {
    ProtocolError(format!("Protocol error: {msg}").into_bytes())
}

/// Parses the decimal number of a header line (`*3` / `$5`), Redis-strict.
fn header_number(line: &[u8]) -> Option<i64> {
    crate::util::num::parse_i64(line)
}

/// The common header (`*3\r`, `$5\r`): a plain decimal of at most 18
/// digits without a leading zero, straight after the type byte and followed
/// by `\r`. Returns the number and the index of the `\r`; None for anything
/// else, which the strict path (memchr + `header_number`) then judges, so
/// both paths agree on every input.
#[inline]
fn quick_header(line: &[u8]) -> Option<(i64, usize)> {
    let mut i = 1;
    let mut v: i64 = 0;
    while let Some(&c) = line.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        if i > 18 {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
        i += 1;
    }
    if i == 1 || line.get(i) != Some(&b'\r') || (line[1] == b'0' && i > 2) {
        return None;
    }
    Some((v, i))
}

fn parse_multibulk(
    buf: &[u8],
    lim: &Limits,
    args: &mut Vec<(usize, usize)>,
) -> Result<Parsed, ProtocolError> {
    let (nl, quick) = match quick_header(buf) {
        Some((n, nl)) => (nl, Some(n)),
        None => {
            let Some(nl) = memchr(b'\r', buf) else {
                if buf.len() > INLINE_MAX {
                    return Err(proto_err("too big mbulk count string"));
                }
                return Ok(Parsed::Incomplete {
                    need: buf.len() + 1,
                });
            };
            if nl > INLINE_MAX {
                return Err(proto_err("too big mbulk count string"));
            }
            (nl, None)
        }
    };
    if nl + 1 >= buf.len() {
        return Ok(Parsed::Incomplete { need: nl + 2 });
    }
    let count = match quick.or_else(|| header_number(&buf[1..nl])) {
        Some(n) if n <= MAX_MULTIBULK => n,
        _ => return Err(proto_err("invalid multibulk length")),
    };
    if count > 10 && !lim.authenticated {
        return Err(proto_err("unauthenticated multibulk length"));
    }
    let mut pos = nl + 2;
    if count <= 0 {
        return Ok(Parsed::Complete { consumed: pos });
    }
    // Reserve modestly: a huge count must not allocate before data arrives.
    args.reserve((count as usize).min(1024));
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(Parsed::Incomplete { need: pos + 1 });
        }
        let rest = &buf[pos..];
        let (nl, quick) = match if rest[0] == b'$' {
            quick_header(rest)
        } else {
            None
        } {
            Some((n, nl)) => (nl, Some(n)),
            None => {
                let Some(nl) = memchr(b'\r', rest) else {
                    if rest.len() > INLINE_MAX {
                        return Err(proto_err("too big bulk count string"));
                    }
                    return Ok(Parsed::Incomplete {
                        need: buf.len() + 1,
                    });
                };
                if nl > INLINE_MAX {
                    return Err(proto_err("too big bulk count string"));
                }
                // Like Redis, the header line must be there before its
                // first byte is judged.
                if rest[0] != b'$' {
                    let mut m = b"Protocol error: expected '$', got '".to_vec();
                    m.push(rest[0]);
                    m.push(b'\'');
                    return Err(ProtocolError(m));
                }
                (nl, None)
            }
        };
        if nl + 1 >= rest.len() {
            return Ok(Parsed::Incomplete { need: pos + nl + 2 });
        }
        let len = match quick.or_else(|| header_number(&rest[1..nl])) {
            Some(n) if n >= 0 && n <= lim.max_bulk => n as usize,
            _ => return Err(proto_err("invalid bulk length")),
        };
        if len > 16384 && !lim.authenticated {
            return Err(proto_err("unauthenticated bulk length"));
        }
        let start = pos + nl + 2;
        let end = start + len;
        if end + 2 > buf.len() {
            return Ok(Parsed::Incomplete { need: end + 2 });
        }
        // Redis does not check the two bytes after the payload; neither do we.
        args.push((start, end));
        pos = end + 2;
    }
    Ok(Parsed::Complete { consumed: pos })
}

fn parse_inline(buf: &[u8], args: &mut Vec<(usize, usize)>) -> Result<Parsed, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(proto_err("too big inline request"));
        }
        return Ok(Parsed::Incomplete { need: buf.len() + 1 });
    };
    if nl > INLINE_MAX {
        return Err(proto_err("too big inline request"));
    }
    let mut line_end = nl;
    if line_end > 0 && buf[line_end - 1] == b'\r' {
        line_end -= 1;
    }
    split_inline(&buf[..line_end], args)?;
    Ok(Parsed::Complete { consumed: nl + 1 })
}

/// Splits an inline command line like a shell would (Redis's rules):
/// whitespace separates, "double quotes" understand \n \r \t \b \a \\ \"
/// and \xHH, 'single quotes' only \'. A closing quote must be followed by
/// whitespace or the end. Inline arguments with escapes are rewritten in
/// place is impossible (the buffer is shared), so quoted arguments with
/// escapes are not supported as ranges: we record them in `INLINE_SCRATCH`.
fn split_inline(line: &[u8], args: &mut Vec<(usize, usize)>) -> Result<(), ProtocolError> {
    let mut i = 0;
    let n = line.len();
    while i < n {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            break;
        }
        let q = line[i];
        if q == b'"' || q == b'\'' {
            // Quoted: the range covers the raw text including quotes; the
            // caller unescapes with `unquote_inline`.
            let start = i;
            i += 1;
            loop {
                if i >= n {
                    return Err(proto_err("unbalanced quotes in request"));
                }
                // In double quotes a backslash escapes any byte; in single
                // quotes only a single quote.
                if line[i] == b'\\' && i + 1 < n && (q == b'"' || line[i + 1] == b'\'') {
                    i += 2;
                    continue;
                }
                if line[i] == q {
                    i += 1;
                    if i < n && !is_space(line[i]) {
                        return Err(proto_err("unbalanced quotes in request"));
                    }
                    break;
                }
                i += 1;
            }
            args.push((start, i));
        } else {
            let start = i;
            while i < n && !is_space(line[i]) {
                i += 1;
            }
            args.push((start, i));
        }
    }
    Ok(())
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// True if an inline argument (as recorded by the parser) is quoted and must
/// be unescaped before use.
pub fn inline_is_quoted(raw: &[u8]) -> bool {
    matches!(raw.first(), Some(b'"') | Some(b'\''))
}

/// Unescapes a quoted inline argument (including its quotes).
pub fn unquote_inline(raw: &[u8]) -> Vec<u8> {
    let q = raw[0];
    let body = &raw[1..raw.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c == b'\\' && i + 1 < body.len() {
            let e = body[i + 1];
            if q == b'\'' {
                if e == b'\'' {
                    out.push(b'\'');
                    i += 2;
                    continue;
                }
                out.push(c);
                i += 1;
                continue;
            }
            if e == b'x' && i + 3 < body.len() + 0 && hex(body[i + 2]).is_some() && hex(body[i + 3]).is_some() {
                out.push(hex(body[i + 2]).unwrap_or(0) * 16 + hex(body[i + 3]).unwrap_or(0));
                i += 4;
                continue;
            }
            out.push(match e {
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'b' => 8,
                b'a' => 7,
                other => other,
            });
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        let mut a = Vec::new();
        let p = parse_request(b, &Limits::default(), &mut a)?;
        let v = a.iter().map(|&(s, e)| b[s..e].to_vec()).collect();
        Ok((p, v))
    }

    #[test]
    fn multibulk() {
        let (p, v) = parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nrest").unwrap();
        assert_eq!(p, Parsed::Complete { consumed: 20 });
        assert_eq!(v, vec![b"GET".to_vec(), b"k".to_vec()]);
    }

    #[test]
    fn quick_header_agrees_with_the_strict_parse() {
        let nums: &[&[u8]] = &[
            b"0",
            b"00",
            b"01",
            b"1",
            b"9",
            b"10",
            b"-1",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"",
            b"123456789012345678",
            b"1234567890123456789",
            b"9223372036854775807",
            b"9223372036854775808",
            b"12a",
            b"a",
        ];
        for n in nums {
            for tail in [&b"\r\n"[..], b"\r", b"", b"\n"] {
                let mut line = b"$".to_vec();
                line.extend_from_slice(n);
                line.extend_from_slice(tail);
                if let Some((v, nl)) = quick_header(&line) {
                    assert_eq!(memchr(b'\r', &line), Some(nl), "{line:?}");
                    assert_eq!(header_number(&line[1..nl]), Some(v), "{line:?}");
                }
            }
            let mut line = b"$".to_vec();
            line.extend_from_slice(n);
            line.push(b'\r');
            let plain = !n.is_empty()
                && n.len() <= 18
                && n.iter().all(u8::is_ascii_digit)
                && (n[0] != b'0' || n.len() == 1);
            assert_eq!(quick_header(&line).is_some(), plain, "{line:?}");
        }
    }

    #[test]
    fn incomplete_hints() {
        assert!(matches!(parse(b"*2\r\n$3\r\nGE").unwrap().0, Parsed::Incomplete { need: 13 }));
        assert!(matches!(parse(b"*2").unwrap().0, Parsed::Incomplete { .. }));
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"*x\r\n").unwrap_err().0, b"Protocol error: invalid multibulk length");
        assert_eq!(parse(b"*1\r\n+a\r\n").unwrap_err().0, b"Protocol error: expected '$', got '+'");
        assert_eq!(parse(b"*1\r\n\xff\r\n").unwrap_err().0, b"Protocol error: expected '$', got '\xff'");
        assert!(matches!(parse(b"*1\r\n+a").unwrap().0, Parsed::Incomplete { .. }));
        assert_eq!(parse(b"*1\r\n$-5\r\n").unwrap_err().0, b"Protocol error: invalid bulk length");
        assert_eq!(parse(b"PING \"a\r\n").unwrap_err().0, b"Protocol error: unbalanced quotes in request");
        assert_eq!(parse(b"ECHO 'a\\\\'\r\n").unwrap_err().0, b"Protocol error: unbalanced quotes in request");
    }

    #[test]
    fn inline() {
        let (p, v) = parse(b"set  k \"a\\x41 b\"\r\n").unwrap();
        assert!(matches!(p, Parsed::Complete { consumed: 18 }));
        assert_eq!(v.len(), 3);
        assert_eq!(unquote_inline(&v[2]), b"aA b".to_vec());
    }
}
