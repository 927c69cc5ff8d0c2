//! A reader for server replies (RESP2 and RESP3), for tests, benchmarks and
//! tools that talk to a server. Returns `Ok(None)` on a partial frame.

use memchr::memchr;

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Frame>>),
    Null,
    Double(Vec<u8>),
    Boolean(bool),
    BigNumber(Vec<u8>),
    Verbatim(Vec<u8>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    Attribute(Vec<(Frame, Frame)>),
}

#[derive(Debug, PartialEq, Eq)]
pub struct BadFrame(pub String);

/// Reads one frame from the start of `buf`: `Ok(Some((frame, consumed)))`.
pub fn read_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, BadFrame> {
    read_at(buf, 0, 0)
}

const MAX_DEPTH: usize = 64;

fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let nl = memchr(b'\n', buf.get(pos..)?)?;
    let end = pos + nl;
    if end == pos || buf[end - 1] != b'\r' {
        return None;
    }
    Some((&buf[pos..end - 1], end + 1))
}

fn num(b: &[u8]) -> Result<i64, BadFrame> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| BadFrame(format!("bad number {:?}", String::from_utf8_lossy(b))))
}

fn read_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(Frame, usize)>, BadFrame> {
    if depth > MAX_DEPTH {
        return Err(BadFrame("nested too deep".into()));
    }
    let Some(&t) = buf.get(pos) else { return Ok(None) };
    let Some((l, next)) = line(buf, pos + 1) else {
        if buf.len() > pos + 1 && memchr(b'\n', &buf[pos + 1..]).is_some() {
            return Err(BadFrame("line without \\r".into()));
        }
        return Ok(None);
    };
    let agg = |n: i64, next: usize, depth: usize| -> Result<Option<(Vec<Frame>, usize)>, BadFrame> {
        let mut v = Vec::with_capacity(n.clamp(0, 1024) as usize);
        let mut p = next;
        for _ in 0..n {
            match read_at(buf, p, depth + 1)? {
                Some((f, np)) => {
                    v.push(f);
                    p = np;
                }
                None => return Ok(None),
            }
        }
        Ok(Some((v, p)))
    };
    let bulk_body = |n: i64, next: usize| -> Result<Option<(Vec<u8>, usize)>, BadFrame> {
        if n < 0 {
            return Err(BadFrame("negative length".into()));
        }
        let end = next + n as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(BadFrame("bulk not terminated".into()));
        }
        Ok(Some((buf[next..end].to_vec(), end + 2)))
    };
    let pairs = |v: Vec<Frame>| -> Vec<(Frame, Frame)> {
        let mut it = v.into_iter();
        let mut out = Vec::new();
        while let (Some(a), Some(b)) = (it.next(), it.next()) {
            out.push((a, b));
        }
        out
    };
    let f = match t {
        b'+' => (Frame::Simple(l.to_vec()), next),
        b'-' => (Frame::Error(l.to_vec()), next),
        b':' => (Frame::Int(num(l)?), next),
        b',' => (Frame::Double(l.to_vec()), next),
        b'(' => (Frame::BigNumber(l.to_vec()), next),
        b'_' => (Frame::Null, next),
        b'#' => (Frame::Boolean(l == b"t"), next),
        b'$' | b'=' | b'!' => {
            let n = num(l)?;
            if n == -1 && t == b'$' {
                (Frame::Bulk(None), next)
            } else {
                match bulk_body(n, next)? {
                    None => return Ok(None),
                    Some((b, p)) => match t {
                        b'$' => (Frame::Bulk(Some(b)), p),
                        b'=' => (Frame::Verbatim(b), p),
                        _ => (Frame::Error(b), p),
                    },
                }
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num(l)?;
            if n == -1 && t == b'*' {
                (Frame::Array(None), next)
            } else {
                let count = if t == b'%' || t == b'|' { n.saturating_mul(2) } else { n };
                match agg(count, next, depth)? {
                    None => return Ok(None),
                    Some((v, p)) => match t {
                        b'*' => (Frame::Array(Some(v)), p),
                        b'~' => (Frame::Set(v), p),
                        b'>' => (Frame::Push(v), p),
                        b'%' => (Frame::Map(pairs(v)), p),
                        _ => (Frame::Attribute(pairs(v)), p),
                    },
                }
            }
        }
        other => return Err(BadFrame(format!("unknown type byte {other:?}"))),
    };
    Ok(Some(f))
}

/// Encodes a command as a RESP multibulk request.
pub fn encode_request<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}
