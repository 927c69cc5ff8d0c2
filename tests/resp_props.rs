//! Property tests for the request parser (`resp::parse`) and the reply
//! reader (`resp::reply::read_frame`).
//!
//! The parser is what every byte a client sends goes through, so besides
//! "parses what it should" these check the contract the connection loop
//! relies on: never panic, `Complete` consumes at least one and at most the
//! buffered bytes, argument ranges lie inside what was consumed, an
//! `Incomplete` hint always asks for more than is buffered and never for
//! more than the request needs, and the result does not depend on how the
//! stream was cut into reads.

use proptest::prelude::*;
use redust::resp::encode::Out;
use redust::resp::parse::{inline_is_quoted, parse_request, unquote_inline, Limits, Parsed, INLINE_MAX};
use redust::resp::reply::{encode_request, read_frame, Frame};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

type Args = Vec<Vec<u8>>;

/// Parses once and checks the invariants that hold for any input.
fn parse_checked(buf: &[u8], lim: &Limits) -> Result<(Parsed, Args), Vec<u8>> {
    // Junk left in the vector must be cleared by the parser.
    let mut ranges = vec![(usize::MAX, 3), (5, 1)];
    let r = parse_request(buf, lim, &mut ranges);
    match r {
        Ok(Parsed::Complete { consumed }) => {
            assert!(consumed >= 1, "Complete must consume something (would loop forever): {buf:?}");
            assert!(consumed <= buf.len(), "consumed {consumed} > len {} for {buf:?}", buf.len());
            for &(s, e) in &ranges {
                assert!(s <= e && e <= consumed, "range ({s},{e}) outside consumed {consumed} for {buf:?}");
            }
            if buf[0] == b'*' {
                for &(s, e) in &ranges {
                    assert!((e - s) as i64 <= lim.max_bulk, "bulk longer than max_bulk accepted");
                }
                if !lim.authenticated {
                    assert!(ranges.len() <= 10, "unauthenticated multibulk with {} args", ranges.len());
                    assert!(ranges.iter().all(|&(s, e)| e - s <= 16384), "unauthenticated big bulk");
                }
            }
            let args = ranges.iter().map(|&(s, e)| buf[s..e].to_vec()).collect();
            Ok((Parsed::Complete { consumed }, args))
        }
        Ok(Parsed::Incomplete { need }) => {
            assert!(need > buf.len(), "Incomplete need {need} <= len {} for {buf:?}", buf.len());
            Ok((Parsed::Incomplete { need }, Vec::new()))
        }
        Err(e) => {
            assert!(e.0.starts_with(b"Protocol error: "), "odd error text {:?}", e.0);
            // The text may quote the offending byte (even '\n', as Redis
            // does); `Out::error` turns CR/LF into spaces when sending it.
            Err(e.0)
        }
    }
}

/// What the connection loop would do with a whole buffer: parse requests
/// until one is incomplete or an error closes the connection.
#[derive(Debug, PartialEq)]
struct Drained {
    requests: Vec<Args>,
    /// Bytes left unparsed at the end.
    rest: usize,
    error: Option<Vec<u8>>,
}

fn drain(buf: &[u8], lim: &Limits) -> Drained {
    let mut pos = 0;
    let mut requests = Vec::new();
    loop {
        match parse_checked(&buf[pos..], lim) {
            Ok((Parsed::Complete { consumed }, args)) => {
                requests.push(args);
                pos += consumed;
            }
            Ok((Parsed::Incomplete { .. }, _)) => {
                return Drained { requests, rest: buf.len() - pos, error: None };
            }
            Err(e) => return Drained { requests, rest: buf.len() - pos, error: Some(e) },
        }
    }
}

/// The same, but the bytes arrive in reads of the given sizes (cycled), as
/// over a socket. Honours the `need` hint like a server that skips re-parsing
/// until enough bytes are buffered; the outcome must not change.
fn drain_chunked(stream: &[u8], chunks: &[usize], lim: &Limits) -> Drained {
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut requests = Vec::new();
    let mut need = 0usize;
    let mut ci = 0;
    loop {
        if buf.len() >= need {
            match parse_checked(&buf, lim) {
                Ok((Parsed::Complete { consumed }, args)) => {
                    requests.push(args);
                    buf.drain(..consumed);
                    need = 0;
                    continue;
                }
                Ok((Parsed::Incomplete { need: n }, _)) => need = n,
                Err(e) => return Drained { requests, rest: buf.len() + (stream.len() - fed), error: Some(e) },
            }
        }
        if fed == stream.len() {
            return Drained { requests, rest: buf.len(), error: None };
        }
        let n = chunks[ci % chunks.len()].max(1).min(stream.len() - fed);
        ci += 1;
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
    }
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        any::<bool>(),
        prop_oneof![
            3 => Just(512 * 1024 * 1024i64),
            1 => 0i64..64,
            1 => Just(i64::MAX),
        ],
    )
        .prop_map(|(authenticated, max_bulk)| Limits { max_bulk, authenticated })
}

/// Bytes drawn mostly from the protocol's own alphabet, so that random
/// streams actually reach the deeper states of the parser.
fn protoish_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b"*$\r\n\r\n0123456789-+ \t\"'\\xaAfF:".to_vec();
    prop::collection::vec(
        prop_oneof![3 => prop::sample::select(alphabet), 1 => any::<u8>()],
        0..max,
    )
}

/// Valid multibulk/inline requests with a few random edits.
fn mutated_stream() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(
            prop_oneof![
                request().prop_map(|a| encode_request(&a)),
                inline_line().prop_map(|(mut l, _)| {
                    l.extend_from_slice(b"\r\n");
                    l
                }),
            ],
            1..4,
        ),
        prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..4),
    )
        .prop_map(|(reqs, edits)| mutate(reqs.concat(), &edits))
}

/// Inputs for the streaming properties: protocol-alphabet noise, or valid
/// requests slightly damaged (which reach Complete much more often).
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![protoish_bytes(200), mutated_stream()]
}

fn binary_arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..24),
        1 => prop::collection::vec(prop::sample::select(b"\r\n*$0123456789".to_vec()), 0..24),
        1 => prop::collection::vec(any::<u8>(), 0..3000),
    ]
}

fn request() -> impl Strategy<Value = Args> {
    prop::collection::vec(binary_arg(), 0..8)
}

/// A word for an inline command: no whitespace, no quotes, not empty.
fn inline_word() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no space/quote", |c| {
            !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b'"' | b'\'')
        }),
        1..12,
    )
}

fn inline_sep() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b" \t\x0b\x0c".to_vec()), 1..4)
}

/// A valid inline line (without its terminator) and the words it holds;
/// the first word never starts with `*` (that would be a multibulk).
fn inline_line() -> impl Strategy<Value = (Vec<u8>, Args)> {
    prop::collection::vec((inline_word(), inline_sep()), 1..8).prop_map(|mut parts| {
        if parts[0].0[0] == b'*' {
            parts[0].0[0] = b'x';
        }
        let mut line = Vec::new();
        let mut words = Vec::new();
        for (i, (w, sep)) in parts.into_iter().enumerate() {
            if i > 0 {
                line.extend_from_slice(&sep);
            }
            line.extend_from_slice(&w);
            words.push(w);
        }
        (line, words)
    })
}

/// Encodes bytes as a double-quoted inline argument.
fn double_quote(b: &[u8]) -> Vec<u8> {
    let mut v = vec![b'"'];
    for &c in b {
        match c {
            b'"' => v.extend_from_slice(b"\\\""),
            b'\\' => v.extend_from_slice(b"\\\\"),
            b'\n' => v.extend_from_slice(b"\\n"),
            b'\r' => v.extend_from_slice(b"\\r"),
            b'\t' => v.extend_from_slice(b"\\t"),
            0x20..=0x7e => v.push(c),
            _ => v.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    v.push(b'"');
    v
}

/// Random edits of a valid stream: bit flips, byte overwrites, insertions
/// and deletions at random places.
fn mutate(mut v: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, kind, byte) in edits {
        let i = if v.is_empty() { 0 } else { at % (v.len() + 1) };
        match kind % 4 {
            0 if i < v.len() => v[i] ^= 1 << (byte % 8),
            1 if i < v.len() => v[i] = byte,
            2 => v.insert(i, byte),
            3 if i < v.len() => {
                v.remove(i);
            }
            _ => {}
        }
    }
    v
}

fn auth() -> Limits {
    Limits::default()
}

// ---------------------------------------------------------------------------
// (a) Any byte stream: a well-formed answer, never a panic
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn any_bytes_well_formed_answer(buf in prop::collection::vec(any::<u8>(), 0..512), lim in limits()) {
        let _ = parse_checked(&buf, &lim);
        drain(&buf, &lim);
    }

    #[test]
    fn protocol_alphabet_well_formed_answer(buf in protoish_bytes(400), lim in limits()) {
        let _ = parse_checked(&buf, &lim);
        drain(&buf, &lim);
    }

    #[test]
    fn mutated_requests_well_formed_answer(
        reqs in prop::collection::vec(request(), 1..4),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
        lim in limits(),
    ) {
        let mut stream = Vec::new();
        for r in &reqs {
            stream.extend(encode_request(r));
        }
        let buf = mutate(stream, &edits);
        drain(&buf, &lim);
    }

    /// Only the consumed bytes decide a Complete: the same request parses
    /// identically alone and followed by anything, and every strict prefix
    /// of it is Incomplete.
    #[test]
    fn complete_depends_only_on_consumed_bytes(
        buf in stream(),
        tail in prop::collection::vec(any::<u8>(), 0..32),
        lim in limits(),
    ) {
        if let Ok((Parsed::Complete { consumed }, args)) = parse_checked(&buf, &lim) {
            let alone = parse_checked(&buf[..consumed], &lim);
            prop_assert_eq!(alone, Ok((Parsed::Complete { consumed }, args.clone())));
            let mut longer = buf.clone();
            longer.extend_from_slice(&tail);
            prop_assert_eq!(parse_checked(&longer, &lim), Ok((Parsed::Complete { consumed }, args)));
            for k in 0..consumed {
                let r = parse_checked(&buf[..k], &lim);
                prop_assert!(matches!(r, Ok((Parsed::Incomplete { .. }, _))), "prefix {} of {:?}: {:?}", k, buf, r);
            }
        }
    }

    /// The Incomplete hint is sound: adding fewer bytes than it asks for
    /// can never complete the request.
    #[test]
    fn incomplete_hint_is_sound(
        buf in stream(),
        more in stream(),
        lim in limits(),
    ) {
        if let Ok((Parsed::Incomplete { need }, _)) = parse_checked(&buf, &lim) {
            let mut longer = buf.clone();
            longer.extend_from_slice(&more);
            let keep = longer.len().min(need - 1);
            let r = parse_checked(&longer[..keep], &lim);
            prop_assert!(!matches!(r, Ok((Parsed::Complete { .. }, _))), "completed below need {}: {:?}", need, r);
        }
    }

    /// Cutting a stream into reads of any sizes (and honouring `need`) gives
    /// the same requests and the same error as parsing it whole.
    #[test]
    fn chunking_does_not_matter(
        buf in stream(),
        chunks in prop::collection::vec(1usize..40, 1..8),
        lim in limits(),
    ) {
        let whole = drain(&buf, &lim);
        let chunked = drain_chunked(&buf, &chunks, &lim);
        prop_assert_eq!(&whole.requests, &chunked.requests);
        prop_assert_eq!(&whole.error, &chunked.error);
        if whole.error.is_none() {
            prop_assert_eq!(whole.rest, chunked.rest);
        }
    }
}

// ---------------------------------------------------------------------------
// (b) Well-formed multibulk requests round-trip
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn multibulk_roundtrip(args in request()) {
        let enc = encode_request(&args);
        let (p, got) = parse_checked(&enc, &auth()).expect("valid request refused");
        prop_assert_eq!(p, Parsed::Complete { consumed: enc.len() });
        prop_assert_eq!(&got, &args);
        // Every strict prefix is Incomplete, and its hint never overshoots
        // the request (the server must not wait for bytes that never come).
        for k in 0..enc.len() {
            match parse_checked(&enc[..k], &auth()) {
                Ok((Parsed::Incomplete { need }, _)) => {
                    prop_assert!(need <= enc.len(), "prefix {}: need {} > request length {}", k, need, enc.len());
                }
                other => prop_assert!(false, "prefix {} of {:?}: {:?}", k, enc, other),
            }
        }
    }

    /// Before authentication: at most 10 arguments of at most 16 KiB pass,
    /// anything beyond is a protocol error, never a silent truncation.
    #[test]
    fn multibulk_unauthenticated_limits(args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..14)) {
        let enc = encode_request(&args);
        let lim = Limits { authenticated: false, ..Limits::default() };
        let r = parse_checked(&enc, &lim);
        if args.len() <= 10 {
            prop_assert_eq!(r, Ok((Parsed::Complete { consumed: enc.len() }, args)));
        } else {
            prop_assert_eq!(r, Err(b"Protocol error: unauthenticated multibulk length".to_vec()));
        }
    }

    /// proto-max-bulk-len is enforced exactly.
    #[test]
    fn multibulk_max_bulk(args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..5), max in 0i64..40) {
        let enc = encode_request(&args);
        let lim = Limits { max_bulk: max, authenticated: true };
        let r = parse_checked(&enc, &lim);
        if args.iter().all(|a| a.len() as i64 <= max) {
            prop_assert_eq!(r, Ok((Parsed::Complete { consumed: enc.len() }, args)));
        } else {
            prop_assert_eq!(r, Err(b"Protocol error: invalid bulk length".to_vec()));
        }
    }
}

// ---------------------------------------------------------------------------
// (c) Pipelining
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn pipelined_multibulk_in_order(reqs in prop::collection::vec(request(), 1..10), partial in prop::collection::vec(any::<u8>(), 0..3)) {
        let mut stream = Vec::new();
        for r in &reqs {
            stream.extend(encode_request(r));
        }
        // A partial next request at the end stays buffered.
        let mut tail = b"*2\r\n$3\r\nGET".to_vec();
        tail.truncate(partial.len() * 4);
        stream.extend_from_slice(&tail);
        let d = drain(&stream, &auth());
        prop_assert_eq!(&d.requests, &reqs);
        prop_assert_eq!(d.rest, tail.len());
        prop_assert_eq!(d.error, None);
    }

    /// Multibulk and inline requests mixed, read in arbitrary chunks.
    #[test]
    fn pipelined_mixed_chunked(
        reqs in prop::collection::vec(prop_oneof![
            request().prop_map(|a| (encode_request(&a), a)),
            (inline_line(), any::<bool>()).prop_map(|((mut line, words), crlf)| {
                line.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                (line, words)
            }),
        ], 1..10),
        chunks in prop::collection::vec(1usize..64, 1..6),
    ) {
        let mut stream = Vec::new();
        for (bytes, _) in &reqs {
            stream.extend_from_slice(bytes);
        }
        let want: Vec<Args> = reqs.into_iter().map(|(_, a)| a).collect();
        let whole = drain(&stream, &auth());
        prop_assert_eq!(&whole.requests, &want);
        prop_assert_eq!(whole.rest, 0);
        let chunked = drain_chunked(&stream, &chunks, &auth());
        prop_assert_eq!(&chunked.requests, &want);
        prop_assert_eq!(chunked.rest, 0);
    }
}

// ---------------------------------------------------------------------------
// (d) Inline commands
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn inline_words(line in inline_line(), crlf in any::<bool>(), lead in prop::collection::vec(Just(b' '), 0..3), trail in prop::collection::vec(Just(b' '), 0..3)) {
        let (line, words) = line;
        let mut buf = lead.clone();
        buf.extend_from_slice(&line);
        buf.extend_from_slice(&trail);
        buf.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        // A leading space could make a '*' word the first byte: it doesn't,
        // but an all-space prefix must still be an inline request.
        let (p, got) = parse_checked(&buf, &auth()).expect("inline refused");
        prop_assert_eq!(p, Parsed::Complete { consumed: buf.len() });
        for w in &got {
            prop_assert!(!inline_is_quoted(w));
        }
        prop_assert_eq!(&got, &words);
        // Without its newline the line is Incomplete.
        let cut = buf.len() - if crlf { 2 } else { 1 };
        let r = parse_checked(&buf[..cut], &auth());
        prop_assert!(matches!(r, Ok((Parsed::Incomplete { .. }, _))), "line without newline: {:?}", r);
    }

    /// Double-quoted arguments carry any bytes through the escapes.
    #[test]
    fn inline_double_quoted_roundtrip(word in inline_word(), vals in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 1..4)) {
        let mut word = word;
        if word[0] == b'*' {
            word[0] = b'x';
        }
        let mut buf = word.clone();
        for v in &vals {
            buf.push(b' ');
            buf.extend(double_quote(v));
        }
        buf.extend_from_slice(b"\r\n");
        let (p, got) = parse_checked(&buf, &auth()).expect("quoted inline refused");
        prop_assert_eq!(p, Parsed::Complete { consumed: buf.len() });
        prop_assert_eq!(got.len(), vals.len() + 1);
        prop_assert_eq!(&got[0], &word);
        for (raw, v) in got[1..].iter().zip(&vals) {
            prop_assert!(inline_is_quoted(raw));
            prop_assert_eq!(&unquote_inline(raw), v);
        }
    }

    /// Quoted arguments found in any line unquote without panicking.
    #[test]
    fn inline_unquote_never_panics(buf in stream()) {
        if let Ok((Parsed::Complete { .. }, args)) = parse_checked(&buf, &auth()) {
            if buf[0] != b'*' {
                for a in &args {
                    if inline_is_quoted(a) {
                        prop_assert!(a.len() >= 2);
                        let _ = unquote_inline(a);
                    }
                }
            }
        }
    }
}

#[test]
fn inline_empty_lines_are_empty_requests() {
    for b in [&b"\r\n"[..], b"\n", b"   \r\n", b"\t\n"] {
        assert_eq!(parse_checked(b, &auth()), Ok((Parsed::Complete { consumed: b.len() }, vec![])));
    }
}

#[test]
fn inline_too_long_is_an_error() {
    let buf = vec![b'a'; INLINE_MAX + 10];
    assert_eq!(parse_checked(&buf, &auth()), Err(b"Protocol error: too big inline request".to_vec()));
    let mut buf = vec![b'*'];
    buf.extend(vec![b'1'; INLINE_MAX + 10]);
    assert_eq!(parse_checked(&buf, &auth()), Err(b"Protocol error: too big mbulk count string".to_vec()));
}

// ---------------------------------------------------------------------------
// (e) The reply reader
// ---------------------------------------------------------------------------

fn check_frame(buf: &[u8]) {
    if let Ok(Some((_, consumed))) = read_frame(buf) {
        assert!(consumed >= 1 && consumed <= buf.len(), "read_frame consumed {consumed} of {}", buf.len());
    }
}

proptest! {
    #[test]
    fn read_frame_never_panics(buf in prop::collection::vec(any::<u8>(), 0..512)) {
        check_frame(&buf);
    }

    #[test]
    fn read_frame_never_panics_protoish(
        buf in prop::collection::vec(
            prop_oneof![3 => prop::sample::select(b"*$%~>|=!+-:,(_#\r\n\r\n0123456789-tf".to_vec()), 1 => any::<u8>()],
            0..400,
        )
    ) {
        check_frame(&buf);
    }

    /// Deep nesting is refused, not a stack overflow.
    #[test]
    fn read_frame_deep_nesting(depth in 0usize..5000, ty in prop::sample::select(b"*~>%|".to_vec())) {
        let mut buf = Vec::new();
        for _ in 0..depth {
            buf.push(ty);
            buf.extend_from_slice(b"1\r\n");
        }
        buf.extend_from_slice(b":1\r\n");
        check_frame(&buf);
    }

    /// A request is itself a RESP array of bulk strings.
    #[test]
    fn read_frame_reads_requests(args in request()) {
        let enc = encode_request(&args);
        let want = Frame::Array(Some(args.into_iter().map(|a| Frame::Bulk(Some(a))).collect()));
        prop_assert_eq!(read_frame(&enc), Ok(Some((want, enc.len()))));
        for k in 0..enc.len() {
            prop_assert_eq!(read_frame(&enc[..k]), Ok(None));
        }
    }

    /// What the reply encoder writes, the reader reads back.
    #[test]
    fn encoder_reader_roundtrip(
        items in prop::collection::vec(prop_oneof![
            any::<i64>().prop_map(Ok),
            prop::collection::vec(any::<u8>(), 0..40).prop_map(Err),
        ], 0..10),
        resp3 in any::<bool>(),
    ) {
        let mut out = Out::new(resp3);
        out.array(items.len());
        for it in &items {
            match it {
                Ok(n) => out.int(*n),
                Err(b) => out.bulk(b),
            }
        }
        out.null();
        let want = Frame::Array(Some(items.iter().map(|it| match it {
            Ok(n) => Frame::Int(*n),
            Err(b) => Frame::Bulk(Some(b.clone())),
        }).collect()));
        let (f, n) = read_frame(&out.buf).unwrap().unwrap();
        prop_assert_eq!(f, want);
        let (null, m) = read_frame(&out.buf[n..]).unwrap().unwrap();
        prop_assert_eq!(null, if resp3 { Frame::Null } else { Frame::Bulk(None) });
        prop_assert_eq!(n + m, out.buf.len());
    }
}
