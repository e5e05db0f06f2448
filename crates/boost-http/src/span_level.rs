//! Whether an `INFO` span can be recorded at all, checked before building one.

use tracing::Level;
use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};

/// `false` when nothing listens at `INFO` (or no subscriber is installed):
/// the check `info_span!` starts with, done first so that the kit's spans are
/// then `Span::none()`. When nothing listens, the macro would still build its
/// fields for the `log` crate (tracing's `log` feature, which sqlx turns on),
/// and a disabled span formats a `log` record on every enter, exit and drop.
#[inline]
pub(crate) fn info_may_listen() -> bool {
    Level::INFO <= STATIC_MAX_LEVEL && Level::INFO <= LevelFilter::current()
}
