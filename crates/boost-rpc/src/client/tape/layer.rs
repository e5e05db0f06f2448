//! [`TapeLayer`]: puts a client's tape in front of its upstream.

use std::sync::Arc;

use tower::Layer;

use super::Tape;
use super::cassette::Cassette;

/// Records or replays the calls of the service it wraps; see the
/// [module docs](super). Cheap to clone: clones share the tape.
#[derive(Debug, Clone)]
pub struct TapeLayer {
    cassette: Arc<Cassette>,
}

impl TapeLayer {
    /// A layer over the opened tape.
    pub(crate) const fn new(cassette: Arc<Cassette>) -> Self {
        Self { cassette }
    }

    /// The service for `replay`: nothing below it, no network.
    pub(crate) fn offline<S>(&self) -> Tape<S> {
        Tape::new(None, self.cassette.clone())
    }
}

impl<S> Layer<S> for TapeLayer {
    type Service = Tape<S>;

    fn layer(&self, inner: S) -> Tape<S> {
        Tape::new(Some(inner), self.cassette.clone())
    }
}
