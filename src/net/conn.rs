//! One client connection: read, parse every complete request in the buffer,
//! run them all on the server in one go (one borrow per batch, replies in
//! order), write the replies, repeat.
//!
//! Back-pressure: nothing more is read from a client until its replies have
//! been written, so a client that never reads cannot grow server memory.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::D;
use crate::resp::parse::{inline_is_quoted, parse_request, unquote_inline, Limits, Parsed};
use crate::resp::Out;
use crate::server::{exec, outlimit, Client, Server};
use crate::util::wake::Wake;

enum Flow {
    Continue,
    /// Stopped with complete requests still buffered because the pending
    /// replies are big: write them first, then carry on without reading.
    Yield,
    /// The client is parked in a blocking command; the rest of its input
    /// waits until it is served or times out.
    Blocked,
    /// A CLIENT PAUSE holds the next request until this time (or until
    /// CLIENT UNPAUSE wakes the task).
    Paused(Instant),
    Close,
}

/// Pending reply bytes after which a batch pauses to write (bounds the
/// memory one pipelining client can pin, e.g. many GETs of a big value).
const OUT_YIELD: usize = 256 * 1024;

/// Bytes asked of the socket per read, at first.
const READ_CHUNK: usize = 16 * 1024;

/// A read that fills the space offered doubles the next one's, up to this,
/// so that a pipeline bigger than READ_CHUNK (16 SETs of 1 KiB) arrives in
/// one read and is answered with one write, as Redis's greedy reads do.
/// Not more: a bulk loader (redis-cli --pipe) keeps its connection's buffer
/// at the largest size, and that block stays resident in the allocator after
/// the loader leaves. At 256 KiB it added 0.25 B per element to a
/// 1,000,000-element list loaded that way (RSS 1.01 of Redis's; 0.998 at
/// 64 KiB), and bought 11-20% on MSET of 1 KiB values at -P 16 (an A/B of
/// the two sizes), which stays 1.8 times Redis at 64 KiB.
const READ_CHUNK_MAX: usize = 64 * 1024;

/// Vectors reused from one request to the next, so that a request costs
/// no allocation of its own.
#[derive(Default)]
struct Scratch {
    ranges: Vec<(usize, usize)>,
    args: Vec<Bytes>,
}

/// Parses and runs everything complete in `inbuf`, after the request a
/// CLIENT PAUSE held back (`held`), if any.
fn process(
    srv: &mut Server,
    client: &Rc<Client>,
    inbuf: &mut BytesMut,
    out: &mut Out,
    need: &mut usize,
    held: &mut Option<Vec<Bytes>>,
    scratch: &mut Scratch,
) -> Flow {
    let Scratch { ranges, args } = scratch;
    let max_bulk = srv.cfg.int(D::PROTO_MAX_BULK_LEN);
    let now = crate::server::now_ms();
    // Redis's query buffer holds the whole batch while it runs (CLIENT
    // INFO shows it); a command left incomplete sets the others below.
    client.qbuf.set(inbuf.len());
    client.qbuf_parsed.set(0);
    client.argv_mem.set(0);
    if let Some(mut h) = held.take() {
        if let Some(flow) = run_one(srv, client, out, &mut h, now, !inbuf.is_empty(), held) {
            return flow;
        }
    }
    loop {
        if inbuf.is_empty() {
            *need = 1;
            return Flow::Continue;
        }
        let lim = Limits {
            max_bulk,
            authenticated: client.authenticated.get() || !srv.requires_auth(),
        };
        match parse_request(inbuf, &lim, ranges) {
            Ok(Parsed::Incomplete { need: n }) => {
                *need = n;
                if let Some(&(_, end)) = ranges.last() {
                    client.qbuf_parsed.set(end + 2);
                    client
                        .argv_mem
                        .set(ranges.iter().map(|&(s, e)| e - s).sum());
                }
                if n > inbuf.capacity() {
                    inbuf.reserve(n - inbuf.len());
                }
                return Flow::Continue;
            }
            Ok(Parsed::Complete { consumed }) => {
                let frame = inbuf.split_to(consumed).freeze();
                if ranges.is_empty() {
                    continue;
                }
                let inline = frame[0] != b'*';
                args.extend(ranges.iter().map(|&(s, e)| {
                    let a = frame.slice(s..e);
                    if inline && inline_is_quoted(&a) {
                        Bytes::from(unquote_inline(&a))
                    } else {
                        a
                    }
                }));
                drop(frame);
                let flow = run_one(srv, client, out, args, now, !inbuf.is_empty(), held);
                // Drop the references to the input buffer now, so that it
                // can be reused rather than reallocated.
                args.clear();
                if let Some(flow) = flow {
                    return flow;
                }
            }
            Err(e) => {
                let mut msg = b"ERR ".to_vec();
                msg.extend_from_slice(&e.0);
                out.error_bytes(&msg);
                if client.replica.get() {
                    tracing::warn!(
                        "Closing replica {}: it sent something that is not RESP ({})",
                        client.addr,
                        String::from_utf8_lossy(&e.0)
                    );
                } else {
                    tracing::info!(
                        "{} from client: {}",
                        String::from_utf8_lossy(&e.0),
                        client.addr
                    );
                }
                return Flow::Close;
            }
        }
    }
}

/// Runs one request; Some when the batch must stop there.
fn run_one(
    srv: &mut Server,
    client: &Rc<Client>,
    out: &mut Out,
    args: &mut Vec<Bytes>,
    now: i64,
    more_input: bool,
    held: &mut Option<Vec<Bytes>>,
) -> Option<Flow> {
    if srv.pause.is_some() {
        if let Some(until) = srv.paused_until(client, args) {
            client.argv_mem.set(crate::server::client::args_len(args));
            *held = Some(std::mem::take(args));
            client.paused.set(true);
            return Some(Flow::Paused(until));
        }
        client.paused.set(false);
    }
    let block = exec::execute(srv, client, out, args, now);
    if !srv.ready_keys.is_empty() {
        srv.serve_ready_keys(now);
    }
    if client.close_asap.get() || srv.shutdown.is_some() {
        return Some(Flow::Close);
    }
    if let Some(req) = block {
        srv.block(client, args, req);
        return Some(Flow::Blocked);
    }
    let limit = srv.out_limits.for_client(client);
    if out.buf.len() >= limit.floor() && limit.exceeded(client, out.buf.len()) {
        outlimit::close(client);
        out.buf.clear();
        return Some(Flow::Close);
    }
    if out.buf.len() >= OUT_YIELD && more_input {
        return Some(Flow::Yield);
    }
    None
}

pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    srv: Rc<RefCell<Server>>,
    client: Rc<Client>,
) {
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Out::new(false);
    let mut need = 1usize;
    let mut yielded = false;
    let mut held: Option<Vec<Bytes>> = None;
    let mut paused_until: Option<Instant> = None;
    let mut scratch = Scratch::default();
    let mut chunk = READ_CHUNK;
    loop {
        let (idle_limit, qbuf_limit) = {
            let s = srv.borrow();
            (
                s.cfg.int(D::TIMEOUT),
                s.cfg.int(D::CLIENT_QUERY_BUFFER_LIMIT) as usize,
            )
        };
        // Replicas are watched by repl-timeout instead.
        let idle_deadline = (idle_limit > 0 && !client.replica.get())
            .then(|| client.last_interaction.get() + Duration::from_secs(idle_limit as u64));
        let mut read_some = 0usize;
        // Keep room for a full read: without it BytesMut hands the socket
        // only a few bytes at a time once the first buffer is used up.
        if inbuf.capacity() - inbuf.len() < chunk / 2 {
            inbuf.reserve(chunk);
        }
        let offered = inbuf.capacity() - inbuf.len();
        let was_blocked = client.blocked.borrow().is_some();
        let block_deadline = client.blocked.borrow().as_ref().and_then(|b| b.deadline);
        let mut resumed = false;
        if let Some(until) = paused_until.take() {
            tokio::select! {
                _ = client.wake.notified() => {}
                _ = sleep_until(Some(until)) => {}
            }
            resumed = true;
        } else if !yielded {
            let read = if block_deadline.is_none() && idle_deadline.is_none() {
                read_or_wake(&mut stream, &mut inbuf, &client.wake).await
            } else {
                tokio::select! {
                    biased;
                    r = stream.read_buf(&mut inbuf) => Some(r),
                    _ = client.wake.notified() => None,
                    _ = sleep_until(block_deadline), if block_deadline.is_some() => {
                        srv.borrow_mut().unblock_timeout(&client, &mut out);
                        None
                    }
                    _ = sleep_until(idle_deadline), if idle_deadline.is_some() && !was_blocked => {
                        if Instant::now().duration_since(client.last_interaction.get()).as_secs() >= idle_limit as u64 {
                            tracing::debug!("Closing idle client {}", client.addr);
                            break;
                        }
                        None
                    }
                }
            };
            match read {
                Some(Ok(0) | Err(_)) => break,
                Some(Ok(n)) => {
                    read_some = n;
                    if n == offered && chunk < READ_CHUNK_MAX {
                        chunk *= 2;
                    }
                    client.tot_net_in.set(client.tot_net_in.get() + n as u64);
                    client.last_interaction.set(Instant::now());
                }
                // Woken for output that others queued (messages,
                // invalidations) while the loop is busy: the batches of the
                // next poll run first, so that one write to this client
                // carries what they publish as well. Busy, the loop polls
                // every few microseconds and would otherwise write to a
                // subscriber after almost every PUBLISH, 1.6 times as often
                // as Redis, whose longer turns gather more; each write costs
                // the subscriber a wake-up and a read.
                None if !was_blocked && !client.replica.get() && super::busypoll::loaded() => {
                    tokio::task::yield_now().await;
                }
                None => {}
            }
        }
        let mut flow = Flow::Continue;
        let blocked = client.blocked.borrow().is_some();
        // Just served or timed out: the input that waited gets its turn.
        let unblocked = was_blocked && !blocked;
        if inbuf.len() > qbuf_limit {
            tracing::warn!(
                "Closing client that reached max query buffer length: {}",
                client.addr
            );
            break;
        }
        if read_some > 0 {
            srv.borrow_mut().stats.net_input_bytes += read_some as u64;
        }
        if (read_some > 0 || yielded || unblocked || resumed) && !blocked {
            let mut s = srv.borrow_mut();
            if inbuf.len() >= need || yielded || unblocked || resumed {
                out.resp3 = client.resp.get() == 3;
                // What others queued for us (the reply of the command that
                // just unblocked, messages) came before the commands
                // pipelined behind it: their replies go after it.
                if !client.replica.get() {
                    take_pending(&client, &mut out);
                }
                flow = process(
                    &mut s,
                    &client,
                    &mut inbuf,
                    &mut out,
                    &mut need,
                    &mut held,
                    &mut scratch,
                );
                super::busypoll::note_work();
            }
            client.qbuf.set(inbuf.len());
        }
        if take_pending(&client, &mut out) && client.replica.get() {
            srv.borrow_mut().repl_output_taken(&client, out.buf.len());
        }
        // Client memory (CLIENT LIST, INFO, maxmemory-clients): a few
        // stores and one call per batch.
        client.qbuf_cap.set(inbuf.capacity());
        client.obuf.set(out.buf.len());
        client.obuf_cap.set(out.buf.capacity());
        if srv.borrow_mut().client_mem_changed(&client) {
            break;
        }
        // Writes reach the AOF before any reply leaves, one write per turn
        // of the event loop for all the clients served in it.
        if srv.borrow().aof.unwritten() {
            super::aof_round::written(&srv).await;
        }
        if !out.buf.is_empty() {
            let n = out.buf.len() as u64;
            // A client told to close (output limits, CLIENT KILL) must not
            // keep us waiting on a socket it never reads.
            // A close the command itself asked for (QUIT, CLIENT KILL of
            // oneself) still gets its reply written first.
            // Usually the socket takes the whole reply at once: one write,
            // without setting up the wait below.
            let done = match write_now(&mut stream, &out.buf).await {
                Ok(n) => n,
                Err(_) => break,
            };
            let rest = &out.buf[done..];
            client.obuf.set(rest.len());
            let written = if rest.is_empty() {
                true
            } else if client.close_asap.get() {
                write_out(&mut stream, rest, &client).await.is_ok()
            } else {
                tokio::select! {
                    biased;
                    r = write_out(&mut stream, rest, &client) => r.is_ok(),
                    _ = closed(&client) => false,
                }
            };
            if !written {
                break;
            }
            client.tot_net_out.set(client.tot_net_out.get() + n);
            client.soft_limit_since.set(None);
            srv.borrow_mut().stats.net_output_bytes += n;
            if client.replica.get() {
                srv.borrow_mut().repl_output_written(&client);
            }
            // Do not keep a huge buffer around after a big reply.
            if out.buf.capacity() > 1 << 20 {
                out.buf = Vec::with_capacity(16 * 1024);
            } else {
                out.buf.clear();
            }
            client.obuf_cap.set(out.buf.capacity());
            srv.borrow_mut().client_mem_changed(&client);
        }
        if matches!(flow, Flow::Close) || client.close_asap.get() {
            break;
        }
        yielded = matches!(flow, Flow::Yield);
        if let Flow::Paused(until) = flow {
            paused_until = Some(until);
        }
    }
    let _ = stream.shutdown().await;
    let mut s = srv.borrow_mut();
    s.unblock(&client);
    s.unwatch_all(&client);
    s.unsubscribe_all(&client);
    s.tracking_off(&client);
    s.repl_forget(&client);
    if client.monitor.get() {
        s.monitors.retain(|&i| i != client.id);
    }
    s.client_mem_forget(&client);
    s.clients.remove(&client.id);
}

/// Reads what the socket has, or returns None when the task is woken
/// (`Client::wake`): a two-way select without the deadline branches, for
/// the common case of a client with neither a timeout nor a blocking call.
async fn read_or_wake<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    wake: &Wake,
) -> Option<std::io::Result<usize>> {
    let mut read = std::pin::pin!(stream.read_buf(buf));
    let mut woken = wake.notified();
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = read.as_mut().poll(cx) {
            return Poll::Ready(Some(r));
        }
        Pin::new(&mut woken).poll(cx).map(|()| None)
    })
    .await
}

/// Appends what others queued for this client (replies of a command that
/// unblocked, messages, a replica's stream) to `out`; true if there was any.
fn take_pending(client: &Client, out: &mut Out) -> bool {
    let mut pending = client.pending.borrow_mut();
    if pending.is_empty() {
        return false;
    }
    if out.buf.is_empty() {
        std::mem::swap(&mut out.buf, &mut *pending);
    } else {
        out.buf.extend_from_slice(&pending);
        pending.clear();
    }
    true
}

/// One write attempt: the bytes the socket took (0 if it would block).
async fn write_now<S: AsyncWrite + Unpin>(stream: &mut S, buf: &[u8]) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| match Pin::new(&mut *stream).poll_write(cx, buf) {
        Poll::Ready(r) => Poll::Ready(r),
        Poll::Pending => Poll::Ready(Ok(0)),
    })
    .await
}

/// Writes all of `buf`, keeping `client.obuf` at the bytes the socket has
/// not taken yet (a client that stops reading shows its backlog in CLIENT
/// LIST omem). The same write calls as write_all.
async fn write_out<S: AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &[u8],
    client: &Client,
) -> std::io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        match stream.write(&buf[at..]).await? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => at += n,
        }
        client.obuf.set(buf.len() - at);
    }
    Ok(())
}

/// Completes once the client has been told to close.
async fn closed(client: &Client) {
    while !client.close_asap.get() {
        client.wake.notified().await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
