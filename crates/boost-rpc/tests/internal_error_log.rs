//! An `Internal` handler error: its source chain goes to the log, never to
//! the caller. (Its own test binary: log assertions need a process of their own.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use boost_rpc::ServiceError;
use boost_tracing::testing::Capture;

#[derive(Debug, thiserror::Error)]
#[error("profile store query failed")]
struct StoreError(#[source] std::io::Error);

#[test]
fn an_internal_errors_source_chain_is_logged_and_never_sent() {
    let capture = Capture::new();
    let status = {
        let _guard = capture.set_default();
        let cause = std::io::Error::other("connection refused by db-7.internal:5432");
        tonic::Status::from(ServiceError::internal(StoreError(cause)))
    };
    assert_eq!(status.code(), tonic::Code::Internal);
    let sent = format!("{} {:?}", status.message(), status.details());
    assert!(!sent.contains("db-7.internal"), "sent: {sent}");
    assert!(!sent.contains("profile store"), "sent: {sent}");

    let events = capture.events();
    let logged = events
        .iter()
        .find(|e| e.message == "handler failed with an internal error")
        .unwrap_or_else(|| panic!("no internal-error event in {events:?}"));
    assert_eq!(logged.level, tracing::Level::ERROR);
    let chain = logged.fields["error"].to_string();
    assert!(
        chain.contains("profile store query failed")
            && chain.contains("connection refused by db-7.internal:5432"),
        "the whole chain is logged: {chain}"
    );
}
