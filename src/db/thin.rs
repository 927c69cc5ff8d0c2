//! `ThinBuf`: a growable byte string behind one thin pointer (8 bytes), with
//! its length and capacity stored in the heap block. String values use it so
//! that a keyspace value fits in 16 bytes, which keeps a whole keyspace node
//! (next pointer, value, metadata, key) in a 48-byte allocation for typical
//! keys: per-key memory is what a cache is judged by.

use std::alloc::{alloc, dealloc, handle_alloc_error, realloc, Layout};
use std::ptr::NonNull;

const HDR: usize = 8; // len: u32, cap: u32

/// Largest string a ThinBuf holds (the 32-bit length in its header).
pub const MAX_LEN: usize = u32::MAX as usize - HDR;

pub struct ThinBuf {
    ptr: NonNull<u8>,
}

// Safety: ThinBuf owns its block exclusively, like a Vec<u8>.
unsafe impl Send for ThinBuf {}
unsafe impl Sync for ThinBuf {}

fn layout(cap: usize) -> Layout {
    // HDR + cap <= u32::MAX, far below isize::MAX, so this cannot fail.
    Layout::from_size_align(HDR + cap, 4).unwrap_or_else(|_| Layout::new::<u64>())
}

impl ThinBuf {
    pub fn with_capacity(cap: usize) -> ThinBuf {
        let cap = cap.min(MAX_LEN);
        let l = layout(cap);
        // Safety: the layout has a non-zero size.
        let p = unsafe { alloc(l) };
        let Some(ptr) = NonNull::new(p) else {
            handle_alloc_error(l)
        };
        let b = ThinBuf { ptr };
        b.set_len(0);
        b.set_cap(cap);
        b
    }

    pub fn from_slice(s: &[u8]) -> ThinBuf {
        let mut b = ThinBuf::with_capacity(s.len());
        b.extend_from_slice(s);
        b
    }

    fn hdr(&self) -> *mut u32 {
        self.ptr.as_ptr() as *mut u32
    }

    pub fn len(&self) -> usize {
        // Safety: the header is always initialised and 4-aligned.
        unsafe { *self.hdr() as usize }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        // Safety: as in len().
        unsafe { *self.hdr().add(1) as usize }
    }

    fn set_len(&self, n: usize) {
        // Safety: as in len(); n <= capacity <= u32::MAX.
        unsafe { *self.hdr() = n as u32 }
    }

    fn set_cap(&self, n: usize) {
        // Safety: as in len().
        unsafe { *self.hdr().add(1) = n as u32 }
    }

    fn data(&self) -> *mut u8 {
        // Safety: the block is at least HDR bytes.
        unsafe { self.ptr.as_ptr().add(HDR) }
    }

    pub fn as_slice(&self) -> &[u8] {
        // Safety: the first len bytes after the header are initialised.
        unsafe { std::slice::from_raw_parts(self.data(), self.len()) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // Safety: as in as_slice, with exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.data(), self.len()) }
    }

    /// Makes room for `extra` more bytes, growing greedily like Redis's
    /// strings (double below 1 MiB, then 1 MiB at a time) so that repeated
    /// APPENDs are amortised O(1).
    pub fn reserve(&mut self, extra: usize) {
        let need = self.len().saturating_add(extra).min(MAX_LEN);
        let cap = self.capacity();
        if need <= cap {
            return;
        }
        let new_cap = if need < 1 << 20 {
            need * 2
        } else {
            need + (1 << 20)
        }
        .min(MAX_LEN);
        // Safety: ptr was allocated with layout(cap); the new size is non-zero.
        let p = unsafe { realloc(self.ptr.as_ptr(), layout(cap), HDR + new_cap) };
        let Some(ptr) = NonNull::new(p) else {
            handle_alloc_error(layout(new_cap))
        };
        self.ptr = ptr;
        self.set_cap(new_cap);
    }

    pub fn extend_from_slice(&mut self, s: &[u8]) {
        let n = s.len().min(MAX_LEN - self.len());
        self.reserve(n);
        let len = self.len();
        // Safety: reserve made room for n bytes after len.
        unsafe { std::ptr::copy_nonoverlapping(s.as_ptr(), self.data().add(len), n) };
        self.set_len(len + n);
    }

    /// Grows to `n` bytes, filling with zeros (shrinking is not needed).
    pub fn zero_extend(&mut self, n: usize) {
        let len = self.len();
        if n <= len {
            return;
        }
        let n = n.min(MAX_LEN);
        self.reserve(n - len);
        // Safety: reserve made room up to n.
        unsafe { std::ptr::write_bytes(self.data().add(len), 0, n - len) };
        self.set_len(n);
    }
}

impl Drop for ThinBuf {
    fn drop(&mut self) {
        // Safety: allocated with layout(capacity).
        unsafe { dealloc(self.ptr.as_ptr(), layout(self.capacity())) }
    }
}

impl Clone for ThinBuf {
    fn clone(&self) -> Self {
        ThinBuf::from_slice(self.as_slice())
    }
}

impl PartialEq for ThinBuf {
    fn eq(&self, o: &Self) -> bool {
        self.as_slice() == o.as_slice()
    }
}

impl std::fmt::Debug for ThinBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grow_and_edit() {
        let mut b = ThinBuf::from_slice(b"hello");
        assert_eq!(b.as_slice(), b"hello");
        for _ in 0..1000 {
            b.extend_from_slice(b" world");
        }
        assert_eq!(b.len(), 5 + 6000);
        b.zero_extend(7000);
        assert_eq!(b.as_slice()[6999], 0);
        b.as_mut_slice()[0] = b'H';
        let c = b.clone();
        assert_eq!(&c.as_slice()[..5], b"Hello");
        assert_eq!(ThinBuf::from_slice(b"").len(), 0);
        assert_eq!(std::mem::size_of::<ThinBuf>(), 8);
    }
}
