//! Feeds arbitrary bytes to the request parser the way a connection does
//! (parse, drop `consumed` bytes, repeat until Incomplete or an error), with
//! several `Limits`, once as one buffer and once arriving in small reads;
//! and to the reply reader. Any panic, or a broken parser contract (checked
//! with asserts below), is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redust::resp::parse::{inline_is_quoted, parse_request, unquote_inline, Limits, Parsed};
use redust::resp::reply::read_frame;

#[derive(Debug, PartialEq)]
enum End {
    Incomplete,
    Error(Vec<u8>),
}

/// Parses one request at the start of `buf` and checks the contract.
fn parse_one(buf: &[u8], lim: &Limits, ranges: &mut Vec<(usize, usize)>) -> Result<Parsed, Vec<u8>> {
    match parse_request(buf, lim, ranges) {
        Ok(Parsed::Complete { consumed }) => {
            assert!(consumed >= 1 && consumed <= buf.len(), "consumed {consumed} of {}", buf.len());
            for &(s, e) in ranges.iter() {
                assert!(s <= e && e <= consumed, "range ({s},{e}) outside {consumed}");
            }
            if buf[0] == b'*' && !lim.authenticated {
                assert!(ranges.len() <= 10);
                assert!(ranges.iter().all(|&(s, e)| e - s <= 16384));
            }
            Ok(Parsed::Complete { consumed })
        }
        Ok(Parsed::Incomplete { need }) => {
            assert!(need > buf.len(), "need {need} <= len {}", buf.len());
            Ok(Parsed::Incomplete { need })
        }
        Err(e) => Err(e.0),
    }
}

/// The arguments of a complete request, as the connection builds them.
fn args_of(frame: &[u8], ranges: &[(usize, usize)]) -> Vec<Vec<u8>> {
    let inline = frame[0] != b'*';
    ranges
        .iter()
        .map(|&(s, e)| {
            let a = &frame[s..e];
            if inline && inline_is_quoted(a) {
                unquote_inline(a)
            } else {
                a.to_vec()
            }
        })
        .collect()
}

/// The whole input in one buffer.
fn drain_whole(data: &[u8], lim: &Limits) -> (Vec<Vec<Vec<u8>>>, End) {
    let mut ranges = Vec::new();
    let mut reqs = Vec::new();
    let mut pos = 0;
    loop {
        match parse_one(&data[pos..], lim, &mut ranges) {
            Ok(Parsed::Complete { consumed }) => {
                reqs.push(args_of(&data[pos..pos + consumed], &ranges));
                pos += consumed;
            }
            Ok(Parsed::Incomplete { .. }) => return (reqs, End::Incomplete),
            Err(e) => return (reqs, End::Error(e)),
        }
    }
}

/// The input arriving in reads of `chunk` bytes, re-parsing only once the
/// `need` hint is reached, like the server.
fn drain_chunked(data: &[u8], lim: &Limits, chunk: usize) -> (Vec<Vec<Vec<u8>>>, End) {
    let mut ranges = Vec::new();
    let mut reqs = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut need = 1;
    loop {
        if buf.len() >= need {
            match parse_one(&buf, lim, &mut ranges) {
                Ok(Parsed::Complete { consumed }) => {
                    reqs.push(args_of(&buf[..consumed], &ranges));
                    buf.drain(..consumed);
                    need = 1;
                    continue;
                }
                Ok(Parsed::Incomplete { need: n }) => need = n,
                Err(e) => return (reqs, End::Error(e)),
            }
        }
        if fed == data.len() {
            return (reqs, End::Incomplete);
        }
        let n = chunk.min(data.len() - fed);
        buf.extend_from_slice(&data[fed..fed + n]);
        fed += n;
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = [
        Limits::default(),
        Limits { authenticated: false, ..Limits::default() },
        Limits { max_bulk: 16, authenticated: true },
        Limits { max_bulk: i64::MAX, authenticated: true },
    ];
    for (i, lim) in limits.iter().enumerate() {
        let whole = drain_whole(data, lim);
        // How the bytes are cut into reads must not change the outcome.
        let chunk = 1 + (data.len() + i) % 7;
        let chunked = drain_chunked(data, lim, chunk);
        assert_eq!(whole, chunked, "chunk size {chunk} changed the outcome");
    }

    // The reply reader, frame after frame.
    let mut pos = 0;
    while pos < data.len() {
        match read_frame(&data[pos..]) {
            Ok(Some((_, n))) => {
                assert!(n >= 1 && n <= data.len() - pos);
                pos += n;
            }
            _ => break,
        }
    }
});
