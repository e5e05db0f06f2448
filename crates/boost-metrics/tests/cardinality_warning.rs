//! The cardinality guard logs one warning per metric, at its first overflow.
//!
//! Its own test binary: tests running beside it without a subscriber would
//! register the guard's `warn!` call site concurrently, and tracing can then
//! cache that call site as disabled for the whole process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use boost_metrics::MetricsSettings;
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

/// Collects the messages of WARN events.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut text = String::new();
            event.record(
                &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                    text.push_str(&format!("{}={:?} ", field.name(), value));
                },
            );
            self.0.lock().unwrap().push(text);
        }
    }
}

fn settings(limit: usize) -> MetricsSettings {
    let mut settings = MetricsSettings::default();
    settings.cardinality_limit = limit;
    settings
}

#[test]
fn the_first_overflow_of_each_metric_logs_one_warning() {
    let warnings = Warnings::default();
    let subscriber = Registry::default().with(warnings.clone());
    let (recorder, _handle) = common::build(&settings(2));
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            for id in 0..50 {
                metrics::counter!("orders_total", "order_id" => id.to_string()).increment(1);
                metrics::gauge!("carts", "cart_id" => id.to_string()).set(1.0);
            }
        });
    });
    let warnings = warnings.0.lock().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("metric=\"orders_total\"")),
        "{warnings:#?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("metric=\"carts\"")),
        "{warnings:#?}"
    );
    assert!(
        warnings[0].contains("cardinality_limit"),
        "the warning says what to change"
    );
}
