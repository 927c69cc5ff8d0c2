//! The replication backlog: the newest `repl-backlog-size` bytes of the
//! replication stream, kept in a ring so that a replica that was briefly
//! away can resume with PSYNC from the byte it still lacks instead of
//! transferring the whole dataset again.
//!
//! Offsets are stream offsets as Redis counts them: the first byte ever fed
//! has offset 1, `end()` is the offset of the last byte (which equals
//! `master_repl_offset`), and the backlog holds `[first(), end()]`.

pub struct Backlog {
    /// Grows up to `size` as the stream arrives, then wraps.
    buf: Vec<u8>,
    size: usize,
    /// Where the next byte goes.
    idx: usize,
    /// Bytes of history held (repl_backlog_histlen).
    pub histlen: usize,
    end: i64,
}

/// Redis never keeps less than this (CONFIG_REPL_BACKLOG_MIN_SIZE).
pub const MIN_SIZE: usize = 16 * 1024;

impl Backlog {
    /// An empty backlog whose first byte will be `master_offset + 1`.
    pub fn new(size: usize, master_offset: i64) -> Self {
        Backlog {
            buf: Vec::new(),
            size: size.max(MIN_SIZE),
            idx: 0,
            histlen: 0,
            end: master_offset,
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// repl_backlog_first_byte_offset.
    pub fn first(&self) -> i64 {
        self.end - self.histlen as i64 + 1
    }

    pub fn end(&self) -> i64 {
        self.end
    }

    pub fn append(&mut self, mut data: &[u8]) {
        self.end += data.len() as i64;
        self.histlen = (self.histlen + data.len()).min(self.size);
        if data.len() >= self.size {
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - self.size..]);
            self.idx = 0;
            return;
        }
        while !data.is_empty() {
            if self.buf.len() < self.size {
                // Still growing: the ring is the buffer, written linearly.
                let n = (self.size - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..n]);
                data = &data[n..];
                self.idx = self.buf.len() % self.size;
            } else {
                let n = (self.size - self.idx).min(data.len());
                self.buf[self.idx..self.idx + n].copy_from_slice(&data[..n]);
                data = &data[n..];
                self.idx = (self.idx + n) % self.size;
            }
        }
    }

    /// The stream from offset `from` to the end, if the backlog still holds
    /// it (`from` may be `end() + 1`: nothing is missing).
    pub fn since(&self, from: i64) -> Option<Vec<u8>> {
        if from < self.first() || from > self.end + 1 {
            return None;
        }
        let skip = (from - self.first()) as usize;
        let len = self.histlen - skip;
        let mut out = Vec::with_capacity(len);
        if len == 0 {
            return Some(out);
        }
        let n = self.buf.len();
        let start = (self.idx + n - self.histlen + skip) % n;
        let first_part = (n - start).min(len);
        out.extend_from_slice(&self.buf[start..start + first_part]);
        out.extend_from_slice(&self.buf[..len - first_part]);
        Some(out)
    }

    /// CONFIG SET repl-backlog-size: keeps the newest history that fits.
    pub fn resize(&mut self, size: usize) {
        let size = size.max(MIN_SIZE);
        if size == self.size {
            return;
        }
        let keep = self.histlen.min(size);
        let tail = self.since(self.end + 1 - keep as i64).unwrap_or_default();
        self.buf = tail;
        self.size = size;
        self.histlen = keep;
        self.idx = self.buf.len() % size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_serves_ranges() {
        let mut b = Backlog::new(MIN_SIZE, 100);
        assert_eq!(b.first(), 101);
        assert_eq!(b.since(101), Some(vec![]));
        let mut all = Vec::new();
        for i in 0..5000u32 {
            let chunk = format!("cmd{i};");
            all.extend_from_slice(chunk.as_bytes());
            b.append(chunk.as_bytes());
        }
        assert_eq!(b.end(), 100 + all.len() as i64);
        assert_eq!(b.histlen, MIN_SIZE);
        let first = b.first();
        assert_eq!(b.since(first - 1), None);
        assert_eq!(b.since(b.end() + 2), None);
        for from in [first, first + 7, b.end() - 3, b.end() + 1] {
            let want = &all[(from - 101) as usize..];
            assert_eq!(b.since(from).unwrap(), want);
        }
        b.resize(MIN_SIZE * 2);
        assert_eq!(b.since(first).unwrap(), &all[(first - 101) as usize..]);
        b.append(b"more");
        all.extend_from_slice(b"more");
        assert_eq!(b.since(first).unwrap(), &all[(first - 101) as usize..]);
        let big = vec![b'x'; MIN_SIZE * 3];
        b.append(&big);
        assert_eq!(b.histlen, MIN_SIZE * 2);
        assert_eq!(b.since(b.first()).unwrap(), vec![b'x'; MIN_SIZE * 2]);
    }
}
