//! Making a request body replayable: collect it into memory if it is already
//! complete and small, so each attempt can send the same bytes.
//!
//! A unary request encoded by tonic is one ready frame followed by the end of
//! the stream. A streaming request is not ready all at once: the first frame
//! that is not immediately available ends the collection and the request is
//! sent once, unchanged (prefix already read + the rest of the stream).

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::Bytes;

/// Largest request body buffered for retries (gRFC A6 uses a per-call
/// buffer limit; 64 KiB holds any reasonable unary request).
pub(crate) const MAX_REPLAY_BYTES: usize = 64 * 1024;

/// A request body after trying to buffer it.
#[derive(Debug)]
pub(crate) enum Buffered {
    /// The whole body, replayable.
    Replayable(Bytes),
    /// Too large or streaming: send once.
    Once(Body),
}

/// One attempt's copy of a buffered body: the bytes as one frame, then the
/// end (so h2 sends one DATA frame with END_STREAM, as for tonic's own body).
///
/// Its size hint is left inexact on purpose: hyper turns an exact hint into a
/// `content-length` request header, which tonic's streaming request body never
/// has — an extra header for both ends to encode, parse and allocate on every
/// call.
struct Replay(Option<Bytes>);

impl HttpBody for Replay {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Poll::Ready(self.0.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
}

/// A body sending `bytes`, for one attempt of a [`Buffered::Replayable`] request.
pub(crate) fn replay_body(bytes: Bytes) -> Body {
    if bytes.is_empty() {
        Body::empty()
    } else {
        Body::new(Replay(Some(bytes)))
    }
}

/// Collects `body` if it is complete now and at most `limit` bytes. It never
/// waits: a frame that is not ready at once ends the collection (a tonic
/// unary body is ready at once).
pub(crate) fn buffer(mut body: Body, limit: usize) -> Result<Buffered, Status> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut chunks = Chunks::default();
    let mut len = 0usize;
    loop {
        let frame = match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(frame) => Some(frame),
            Poll::Pending => None,
        };
        match frame {
            Some(None) => return Ok(Buffered::Replayable(concat(chunks, len))),
            Some(Some(Err(status))) => return Err(status),
            Some(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    len += data.len();
                    chunks.push(data);
                    if len > limit {
                        return Ok(Buffered::Once(prefixed(chunks, len, body)));
                    }
                }
                Err(frame) => {
                    let trailers = frame.into_trailers().unwrap_or_default();
                    // Request trailers are unusual; send as they came, once.
                    return Ok(Buffered::Once(Body::new(Prefixed {
                        prefix: Some(concat(chunks, len)),
                        trailers: Some(trailers),
                        rest: body,
                    })));
                }
            },
            None => return Ok(Buffered::Once(prefixed(chunks, len, body))),
        }
    }
}

/// The data frames read so far. Most bodies are one frame, kept as is: no
/// allocation, no copy.
#[derive(Default)]
struct Chunks {
    first: Option<Bytes>,
    more: Vec<Bytes>,
}

impl Chunks {
    fn push(&mut self, data: Bytes) {
        if self.first.is_none() {
            self.first = Some(data);
        } else {
            self.more.push(data);
        }
    }
}

fn prefixed(chunks: Chunks, len: usize, rest: Body) -> Body {
    Body::new(Prefixed {
        prefix: Some(concat(chunks, len)),
        trailers: None,
        rest,
    })
}

fn concat(chunks: Chunks, len: usize) -> Bytes {
    let Some(first) = chunks.first else {
        return Bytes::new();
    };
    if chunks.more.is_empty() {
        return first;
    }
    let mut all = Vec::with_capacity(len);
    all.extend_from_slice(&first);
    for c in &chunks.more {
        all.extend_from_slice(c);
    }
    Bytes::from(all)
}

/// Bytes already read, then optional trailers frame, then the rest of the body.
struct Prefixed {
    prefix: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
    rest: Body,
}

impl HttpBody for Prefixed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(prefix) = self.prefix.take()
            && !prefix.is_empty()
        {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        if let Some(trailers) = self.trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.as_ref().is_none_or(Bytes::is_empty)
            && self.trailers.is_none()
            && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let extra = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + extra);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + extra);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_body_is_one_frame_with_no_exact_size() {
        let mut body = replay_body(Bytes::from_static(b"hello"));
        // Exact would make hyper add `content-length`, which tonic's own
        // request body never sends.
        assert!(body.size_hint().exact().is_none());
        assert!(!body.is_end_stream());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) else {
            panic!("the bytes come at once");
        };
        assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"hello"));
        assert!(body.is_end_stream(), "END_STREAM goes with the data frame");
    }

    #[tokio::test]
    async fn small_complete_body_is_replayable_large_is_not() {
        let small = Body::new(http_body_util::Full::new(Bytes::from_static(b"hello")));
        match buffer(small, 16).unwrap() {
            Buffered::Replayable(b) => assert_eq!(&b[..], b"hello"),
            Buffered::Once(_) => panic!("small body should be replayable"),
        }
        let large = Body::new(http_body_util::Full::new(Bytes::from(vec![7u8; 100])));
        match buffer(large, 16).unwrap() {
            Buffered::Replayable(_) => panic!("large body must not be buffered"),
            Buffered::Once(body) => {
                use http_body_util::BodyExt;
                let bytes = body.collect().await.unwrap().to_bytes();
                assert_eq!(bytes.len(), 100, "the body is passed on intact");
            }
        }
    }
}
