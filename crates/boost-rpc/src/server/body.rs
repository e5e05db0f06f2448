//! A response body that reports the call's final status when it ends.
//!
//! A gRPC call's status is known only at the very end: a successful unary call
//! sends `grpc-status: 0` in the *trailers*, after the message; an error may
//! come in the headers (a "trailers-only" response) or in the trailers after
//! streamed messages. So the layers that record the status (the server span,
//! the duration histogram) and the ones that hold a resource for the whole call
//! (the load-shed permit) wrap the response body in [`ObservedBody`], which calls
//! [`OnEnd::on_end`] exactly once: when the trailers pass, when the body ends
//! without trailers, or when the body is dropped early (the client went away:
//! `CANCELLED`).

use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Code;

use super::grpc;

/// Defines `$name<B>`, a public response body that is `$inner` (a body over
/// `B`) unchanged: each layer names its own body this way, so its per-call
/// record (an [`OnEnd`]) stays private and can change freely.
macro_rules! response_body {
    ($(#[$attr:meta])* $name:ident => $inner:ty) => {
        pin_project_lite::pin_project! {
            $(#[$attr])*
            pub struct $name<B: http_body::Body> {
                #[pin]
                inner: $inner,
            }
        }

        impl<B: http_body::Body> http_body::Body for $name<B> {
            type Data = B::Data;
            type Error = B::Error;

            #[inline]
            fn poll_frame(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
                self.project().inner.poll_frame(cx)
            }

            fn is_end_stream(&self) -> bool {
                self.inner.is_end_stream()
            }

            fn size_hint(&self) -> http_body::SizeHint {
                self.inner.size_hint()
            }
        }

        impl<B: http_body::Body + Default> Default for $name<B> {
            fn default() -> Self {
                Self {
                    inner: Default::default(),
                }
            }
        }

        impl<B: http_body::Body> std::fmt::Debug for $name<B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use response_body;

/// Told once how a call ended. Implemented by the layers' per-call records.
pub(crate) trait OnEnd {
    /// Whether [`on_end`](OnEnd::on_end) uses its `code`. An observer that
    /// only needs to know *when* the call ends (a load-shed slot) sets this
    /// to `false`, and [`ObservedBody`] then skips reading `grpc-status`
    /// from the headers and trailers (it is passed [`Code::Ok`]).
    /// Default: `true`.
    const NEEDS_CODE: bool = true;

    /// Called once with the final status of the call.
    fn on_end(self, code: Code);

    /// Runs one poll of the body (until the call ends). The trace layer's
    /// record runs it inside the call's span, so what the inner layers do
    /// when the body ends — the metrics layer recording the duration, which
    /// takes the span's trace as its exemplar — happens inside the trace.
    /// Default: just runs it.
    #[inline]
    fn poll_in_scope<R>(&self, poll: impl FnOnce() -> R) -> R {
        poll()
    }
}

pin_project! {
    /// A response body that calls an [`OnEnd`] with the call's final status
    /// when the body ends or is dropped. Data, trailers and errors pass through
    /// unchanged.
    pub(crate) struct ObservedBody<B: Body, E: OnEnd> {
        #[pin]
        inner: B,
        observer: Option<E>,
        // The status if the body ends without trailers (trailers-only answers,
        // HTTP services).
        without_trailers: Code,
    }

    impl<B: Body, E: OnEnd> PinnedDrop for ObservedBody<B, E> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(observer) = this.observer.take() {
                // Dropped before its end: a body already at its end (an empty
                // trailers-only answer hyper never polls) keeps its status; one
                // cut short means the client went away or reset the stream.
                let code = if this.inner.is_end_stream() {
                    *this.without_trailers
                } else {
                    Code::Cancelled
                };
                observer.on_end(code);
            }
        }
    }
}

impl<B: Body, E: OnEnd> ObservedBody<B, E> {
    /// Wraps `res`'s body so that `observer` learns the call's final status.
    pub(crate) fn wrap(res: Response<B>, observer: E) -> Response<Self> {
        let without_trailers = if E::NEEDS_CODE {
            grpc::code_without_trailers(&res)
        } else {
            Code::Ok
        };
        res.map(|inner| ObservedBody {
            inner,
            observer: Some(observer),
            without_trailers,
        })
    }

    /// Wraps `res`'s body without observing it (for a disabled span).
    pub(crate) fn unobserved(res: Response<B>) -> Response<Self> {
        res.map(|inner| ObservedBody {
            inner,
            observer: None,
            without_trailers: Code::Ok,
        })
    }
}

impl<B: Body, E: OnEnd> Body for ObservedBody<B, E> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let inner = this.inner;
        let polled = match this.observer.as_ref() {
            Some(observer) => observer.poll_in_scope(|| inner.poll_frame(cx)),
            None => return inner.poll_frame(cx),
        };
        if let Poll::Ready(ref next) = polled {
            let code = match next {
                Some(Ok(frame)) => frame.trailers_ref().map(|trailers| {
                    if E::NEEDS_CODE {
                        crate::status_code::grpc_status(trailers).unwrap_or(*this.without_trailers)
                    } else {
                        Code::Ok
                    }
                }),
                Some(Err(_)) => Some(Code::Unknown),
                None => Some(*this.without_trailers),
            };
            if let Some(code) = code
                && let Some(observer) = this.observer.take()
            {
                observer.on_end(code);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body + Default, E: OnEnd> Default for ObservedBody<B, E> {
    fn default() -> Self {
        ObservedBody {
            inner: B::default(),
            observer: None,
            without_trailers: Code::Ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use http_body_util::{BodyExt, Empty, Full, StreamBody};

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<Code>>>);
    impl OnEnd for Seen {
        fn on_end(self, code: Code) {
            self.0.lock().unwrap().push(code);
        }
    }

    fn grpc_ok_response<B>(body: B) -> Response<B> {
        let mut res = Response::new(body);
        res.headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        res
    }

    #[tokio::test]
    async fn status_in_trailers_is_reported_once_at_the_end() {
        let seen = Seen::default();
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", "5".parse().unwrap());
        let frames: Vec<Result<Frame<&'static [u8]>, std::convert::Infallible>> =
            vec![Ok(Frame::data(&b"msg"[..])), Ok(Frame::trailers(trailers))];
        let body = StreamBody::new(futures::stream::iter(frames));
        let res = ObservedBody::wrap(grpc_ok_response(body), seen.clone());
        let _ = res.into_body().collect().await;
        assert_eq!(*seen.0.lock().unwrap(), vec![Code::NotFound]);
    }

    #[tokio::test]
    async fn trailers_only_response_dropped_unpolled_keeps_its_status() {
        let seen = Seen::default();
        let res: Response<Empty<&'static [u8]>> = tonic::Status::unavailable("busy").into_http();
        drop(ObservedBody::wrap(res, seen.clone()));
        assert_eq!(*seen.0.lock().unwrap(), vec![Code::Unavailable]);
    }

    #[tokio::test]
    async fn body_dropped_midway_counts_as_cancelled() {
        let seen = Seen::default();
        let body = Full::new(&b"unfinished"[..]);
        drop(ObservedBody::wrap(grpc_ok_response(body), seen.clone()));
        assert_eq!(*seen.0.lock().unwrap(), vec![Code::Cancelled]);
    }
}
