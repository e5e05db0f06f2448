//! The idle timer of a request body: how long the peer may send nothing
//! before the call is given up.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

pin_project! {
    /// Fires when a body has waited `after` for its next frame.
    ///
    /// Armed only when the body has to wait (the peer has sent nothing
    /// yet), so a unary request, whose frames are there when the handler
    /// reads them, never registers a timer. The timer lives inline (no
    /// allocation) and is re-armed in place on each later wait.
    pub(super) struct IdleTimer {
        after: Option<Duration>,
        armed: bool,
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl IdleTimer {
    /// A timer that fires after `after` of waiting; `None` never fires.
    pub(super) const fn new(after: Option<Duration>) -> Self {
        IdleTimer {
            after,
            armed: false,
            sleep: None,
        }
    }

    /// The body got a frame: the next wait starts afresh.
    #[inline]
    pub(super) fn progressed(self: Pin<&mut Self>) {
        *self.project().armed = false;
    }

    /// The body has to wait: `Ready` with the timeout once it has waited
    /// that long since it last saw a frame, `Pending` with a wake-up
    /// registered otherwise.
    pub(super) fn poll_expired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Duration> {
        let mut this = self.project();
        let Some(after) = *this.after else {
            return Poll::Pending;
        };
        if !*this.armed {
            *this.armed = true;
            let at = Instant::now() + after;
            match this.sleep.as_mut().as_pin_mut() {
                Some(sleep) => sleep.reset(at),
                None => this.sleep.set(Some(tokio::time::sleep_until(at))),
            }
        }
        match this.sleep.as_pin_mut() {
            Some(sleep) => sleep.poll(cx).map(|()| after),
            None => Poll::Pending,
        }
    }
}

impl std::fmt::Debug for IdleTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleTimer")
            .field("after", &self.after)
            .field("armed", &self.armed)
            .finish()
    }
}
