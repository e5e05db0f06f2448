//! A call site first reached by a thread without a capture still reports to
//! a capture on another thread. Alone in its binary on purpose: with no other
//! dispatcher alive, tracing-core would judge the call site by the first
//! thread's default only and cache "never" for everyone.

use boost_tracing::testing::Capture;

fn reached_first_elsewhere() {
    tracing::warn!("reached first by a thread without a capture");
}

#[test]
fn a_call_site_registered_by_an_uncaptured_thread_is_still_captured() {
    let capture = Capture::new();
    let _guard = capture.set_default();
    std::thread::spawn(reached_first_elsewhere)
        .join()
        .expect("the uncaptured thread ran");
    reached_first_elsewhere();
    assert!(
        capture
            .event_with_message("reached first by a thread without a capture")
            .is_some(),
        "the capture missed an event at a call site another thread registered"
    );
}
