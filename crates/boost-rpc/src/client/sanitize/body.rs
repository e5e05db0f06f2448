//! [`CheckedBody`]: a response body whose trailers are checked before tonic
//! reads them, and whose attempt is counted when its status arrives.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;
use tonic::codegen::Bytes;
use tonic::{Code, Status};

use super::attempt::Attempt;
use super::metadata::{drop_malformed_details, scan, too_large};

/// The upstream's body, with its trailers bounded and sanitised.
pub(crate) struct CheckedBody {
    pub(super) inner: Body,
    pub(super) max_metadata: usize,
    pub(super) attempt: Attempt,
    pub(super) framing: Framing,
}

impl HttpBody for CheckedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        // Asked again: the message delivered last was taken fine.
        self.framing.asked_again();
        let polled = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(match polled {
            Some(Ok(frame)) => match frame.into_trailers() {
                Ok(mut trailers) => {
                    let found = scan(&trailers);
                    if found.size > self.max_metadata {
                        let status = too_large("trailers", found.size, self.max_metadata);
                        self.attempt.record(status.code());
                        return Poll::Ready(Some(Err(status)));
                    }
                    if found.details {
                        drop_malformed_details(&mut trailers);
                    }
                    let code = found.status.unwrap_or(Code::Unknown);
                    self.attempt.record(code);
                    Some(Ok(Frame::trailers(trailers)))
                }
                Err(frame) => {
                    if let Some(data) = frame.data_ref() {
                        self.framing.feed(data);
                    }
                    Some(Ok(frame))
                }
            },
            Some(Err(status)) => {
                self.attempt.record(status.code());
                Some(Err(status))
            }
            None => {
                // gRPC requires a status; tonic (like grpc-go) reports UNKNOWN.
                self.attempt.record(Code::Unknown);
                None
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for CheckedBody {
    fn drop(&mut self) {
        if self.framing.looks_undecodable() {
            // tonic fails an undecodable message with INTERNAL and drops the
            // body without asking for more (see `Framing`).
            self.attempt.record(Code::Internal);
        }
        // Otherwise `attempt` counts CANCELLED, if its status never came.
    }
}

/// Where the body is in gRPC's message framing (a 1-byte compression flag,
/// a 4-byte big-endian length, the message), to tell a decode failure from a
/// cancel when the body is dropped before its trailers.
///
/// tonic decodes a message as soon as its last byte arrives; when decoding
/// fails it answers the caller INTERNAL and drops the body at once, while a
/// unary call that decoded fine always asks for the trailers next. So a body
/// dropped right after completing a message, without being asked again, was
/// undecodable — or a streaming caller stopped reading exactly there, which
/// this counts as INTERNAL too (the price of not knowing the message type).
#[derive(Debug, Default)]
pub(crate) struct Framing {
    /// Bytes of the current message's 5-byte prefix seen so far.
    prefix: u8,
    /// The length being read from the prefix.
    len: u32,
    /// Bytes of the current message still to come.
    remaining: usize,
    /// A compression flag other than 0 or 1 was seen (tonic: INTERNAL).
    bad_flag: bool,
    /// The last data delivered ended exactly at the end of a message, and the
    /// body has not been asked for more since.
    at_message_end: bool,
}

impl Framing {
    /// Follows `data` through the framing.
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.prefix < 5 {
                let Some((&byte, rest)) = data.split_first() else {
                    return;
                };
                data = rest;
                self.at_message_end = false;
                if self.prefix == 0 {
                    self.bad_flag |= byte > 1;
                    self.len = 0;
                } else {
                    self.len = (self.len << 8) | u32::from(byte);
                }
                self.prefix += 1;
                if self.prefix == 5 {
                    self.remaining = usize::try_from(self.len).unwrap_or(usize::MAX);
                }
            } else {
                let take = self.remaining.min(data.len());
                self.remaining -= take;
                data = data.get(take..).unwrap_or_default();
            }
            if self.prefix == 5 && self.remaining == 0 {
                self.prefix = 0;
                self.at_message_end = true;
            }
        }
    }

    /// The body was polled again.
    pub(crate) fn asked_again(&mut self) {
        self.at_message_end = false;
    }

    /// Whether a drop now means tonic could not decode what it got.
    pub(crate) fn looks_undecodable(&self) -> bool {
        self.bad_flag || self.at_message_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_follows_messages_split_anywhere() {
        let message = [0u8, 0, 0, 0, 3, 1, 2, 3];
        for split in 0..=message.len() {
            let mut framing = Framing::default();
            framing.feed(&message[..split]);
            assert_eq!(
                framing.looks_undecodable(),
                split == message.len(),
                "split at {split}"
            );
            framing.feed(&message[split..]);
            assert!(framing.looks_undecodable(), "split at {split}");
            framing.asked_again();
            assert!(!framing.looks_undecodable());
        }
    }

    #[test]
    fn a_second_message_started_is_not_a_message_end() {
        let mut framing = Framing::default();
        framing.feed(&[0, 0, 0, 0, 1, 9, 0, 0]);
        assert!(!framing.looks_undecodable());
        framing.feed(&[0, 0, 0]);
        assert!(framing.looks_undecodable(), "an empty message completes");
    }

    #[test]
    fn a_bad_compression_flag_is_undecodable() {
        let mut framing = Framing::default();
        framing.feed(&[7, 0, 0, 0, 9, 1]);
        framing.asked_again();
        assert!(framing.looks_undecodable());
    }
}
