//! Whether an `INFO` span can be recorded at all, checked before building one.

use tracing::Level;
use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};

/// `false` when no subscriber listens at `INFO` (or none is installed): the
/// first check `info_span!` makes, done first so that the kit's spans are
/// then `Span::none()`. With tracing's `log` feature on and no subscriber
/// set, the macro would otherwise still build every field for the `log` crate
/// and format a record on each enter, exit and drop (~600 instructions a call
/// for the client and server spans). As boost-http's server span does.
#[inline]
pub(crate) fn info_may_listen() -> bool {
    Level::INFO <= STATIC_MAX_LEVEL && Level::INFO <= LevelFilter::current()
}
