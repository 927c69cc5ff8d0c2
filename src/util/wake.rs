//! A one-thread wake-up flag for a connection task. Everything runs on one
//! thread, so a Cell-based flag and waker do what `tokio::sync::Notify`
//! does without its mutex, which every connection would otherwise lock on
//! each loop iteration.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct Wake {
    flag: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Wake {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes the waiting task (or the next wait, if none is waiting).
    pub fn notify_one(&self) {
        self.flag.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Completes once `notify_one` has been called since the last wait.
    pub fn notified(&self) -> Notified<'_> {
        Notified(self)
    }
}

pub struct Notified<'a>(&'a Wake);

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.flag.replace(false) {
            return Poll::Ready(());
        }
        let keep = match self.0.waker.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        self.0.waker.set(Some(keep));
        Poll::Pending
    }
}
