//! Serving other clients while a script runs past `busy-reply-threshold`.
//!
//! The executor is the thread running the script, so the connection tasks
//! cannot run. Instead the script's hook reads complete requests straight
//! from the other clients' sockets (non-blocking), answers `-BUSY`, and
//! acts on SCRIPT KILL / FUNCTION KILL / FUNCTION STATS / SHUTDOWN NOSAVE,
//! as Redis does. Only clients with nothing buffered in their connection
//! task are served this way, so no request is split between the two
//! readers; TLS clients (whose bytes are encrypted) wait for the script.

use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;

use super::RunFlags;
use crate::resp::parse::{parse_request, Limits, Parsed};
use crate::resp::Out;
use crate::server::Client;

/// What the hook needs to answer others; taken when the script starts.
pub struct Others {
    pub clients: Vec<Rc<Client>>,
    pub is_function: bool,
    pub name: String,
    pub command: Vec<Bytes>,
    pub started: Instant,
    pub libraries: usize,
    pub functions: usize,
}

const BUSY_EVAL: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const BUSY_FUNCTION: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
const UNKILLABLE: &[u8] = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";

/// Bytes peeked from a socket per visit.
const PEEK: usize = 64 * 1024;

impl Others {
    /// Answers every complete request waiting on the other clients' sockets.
    pub fn serve(&self, flags: &RunFlags) {
        let mut buf = vec![0u8; PEEK];
        for c in &self.clients {
            if c.qbuf.get() > 0 || c.blocked.borrow().is_some() || c.close_asap.get() {
                continue;
            }
            // SAFETY: the fd belongs to a live connection (its task cannot
            // run and close it while the script holds the executor).
            let n = unsafe {
                libc::recv(
                    c.fd,
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                continue;
            }
            let data = &buf[..n as usize];
            let (consumed, reply) = self.answer(data, c, flags);
            if consumed == 0 {
                continue;
            }
            let mut sink = vec![0u8; consumed];
            // SAFETY: reads bytes already known to be there.
            unsafe {
                libc::recv(
                    c.fd,
                    sink.as_mut_ptr() as *mut libc::c_void,
                    consumed,
                    libc::MSG_DONTWAIT,
                );
            }
            if write_now(c, &reply) {
                c.wake.notify_one();
            }
        }
    }

    /// Parses complete requests in `data`; returns the bytes they took and
    /// the replies.
    fn answer(&self, data: &[u8], c: &Client, flags: &RunFlags) -> (usize, Vec<u8>) {
        let lim = Limits {
            max_bulk: 512 * 1024 * 1024,
            authenticated: true,
        };
        let mut pos = 0;
        let mut ranges = Vec::new();
        let mut reply = Vec::new();
        while pos < data.len() {
            match parse_request(&data[pos..], &lim, &mut ranges) {
                Ok(Parsed::Complete { consumed }) => {
                    let frame = &data[pos..pos + consumed];
                    let args: Vec<&[u8]> = ranges.iter().map(|&(s, e)| &frame[s..e]).collect();
                    pos += consumed;
                    if !args.is_empty() {
                        self.one(&args, c, flags, &mut reply);
                    }
                }
                _ => break,
            }
        }
        (pos, reply)
    }

    fn one(&self, args: &[&[u8]], c: &Client, flags: &RunFlags, reply: &mut Vec<u8>) {
        let word = |i: usize| {
            args.get(i)
                .map(|a| a.to_ascii_lowercase())
                .unwrap_or_default()
        };
        let busy = if self.is_function {
            BUSY_FUNCTION
        } else {
            BUSY_EVAL
        };
        match (word(0).as_slice(), word(1).as_slice()) {
            (b"script", b"kill") if !self.is_function => kill(flags, reply),
            (b"function", b"kill") if self.is_function => kill(flags, reply),
            (b"function", b"stats") if self.is_function => self.stats(c, reply),
            (b"shutdown", b"nosave") => {
                tracing::warn!(
                    "User requested shutdown while a script was running; exiting without saving"
                );
                std::process::exit(0);
            }
            _ => reply.extend_from_slice(busy),
        }
    }

    fn stats(&self, c: &Client, reply: &mut Vec<u8>) {
        let mut out = Out::new(c.resp.get() == 3);
        out.map(2);
        out.bulk(b"running_script");
        out.map(3);
        out.bulk(b"name");
        out.bulk(self.name.as_bytes());
        out.bulk(b"command");
        out.array(self.command.len());
        for a in &self.command {
            out.bulk(a);
        }
        out.bulk(b"duration_ms");
        out.int(self.started.elapsed().as_millis() as i64);
        out.bulk(b"engines");
        out.map(1);
        out.bulk(b"LUA");
        out.map(2);
        out.bulk(b"libraries_count");
        out.int(self.libraries as i64);
        out.bulk(b"functions_count");
        out.int(self.functions as i64);
        reply.extend_from_slice(&out.buf);
    }
}

fn kill(flags: &RunFlags, reply: &mut Vec<u8>) {
    if flags.wrote.get() {
        reply.extend_from_slice(UNKILLABLE);
    } else {
        flags.kill.set(true);
        reply.extend_from_slice(b"+OK\r\n");
    }
}

/// Sends `bytes` now; what the socket does not take waits in the client's
/// pending output, which its task writes first when it runs again.
/// True if some output had to wait.
fn write_now(c: &Client, bytes: &[u8]) -> bool {
    // SAFETY: plain non-blocking send on the client's live socket.
    let n = unsafe {
        libc::send(
            c.fd,
            bytes.as_ptr() as *const libc::c_void,
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    let sent = if n < 0 { 0 } else { n as usize };
    if sent < bytes.len() {
        c.pending.borrow_mut().extend_from_slice(&bytes[sent..]);
        return true;
    }
    false
}
