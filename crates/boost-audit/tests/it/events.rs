//! Every record is one WARN event at `AUDIT_TARGET` with all its fields, written to the
//! file or not.
//!
//! One global subscriber for the whole binary (thread-local ones race with other tests over
//! tracing's callsite cache); each test tells its events apart by a service name of its own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use boost_audit::{AUDIT_TARGET, AuditLog, AuditSettings};
use boost_config::ByteSize;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::{dir, record};

type Fields = BTreeMap<String, String>;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(String, tracing::Level, Fields)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct Visitor<'a>(&'a mut Fields);
        impl Visit for Visitor<'_> {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                self.0.insert(field.name().to_owned(), format!("{value:?}"));
            }
            fn record_str(&mut self, field: &Field, value: &str) {
                self.0.insert(field.name().to_owned(), value.to_owned());
            }
        }
        let mut fields = Fields::new();
        event.record(&mut Visitor(&mut fields));
        let meta = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((meta.target().to_owned(), *meta.level(), fields));
    }
}

/// The binary's capture, installed as the global subscriber on first use.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        capture
    })
}

/// The audit events of `service`.
fn audit_events(service: &str) -> Vec<(tracing::Level, Fields)> {
    capture()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(target, _, fields)| {
            target == AUDIT_TARGET && fields.get("service").map(String::as_str) == Some(service)
        })
        .map(|(_, level, fields)| (*level, fields.clone()))
        .collect()
}

#[test]
fn each_record_is_one_warn_event_with_every_field() {
    capture();
    let dir = dir();
    let log = AuditLog::open(&AuditSettings::new(&dir.file), "events-every-field").unwrap();
    let written = log.record(record(7)).unwrap();
    let events = audit_events("events-every-field");
    assert_eq!(events.len(), 1, "{events:?}");
    let (level, fields) = &events[0];
    assert_eq!(*level, tracing::Level::WARN);
    for (key, value) in [
        ("seq", "1"),
        ("service", "events-every-field"),
        ("actor", "jo"),
        ("token_fingerprint", "sha256:2bb80d53"),
        ("peer", "127.0.0.1:40000"),
        ("action", "switch.set"),
        ("target", "switch_7"),
        ("old", "on"),
        ("new", "off"),
        ("reason", "test 7"),
        ("outcome", "changed"),
        ("at", written.at.as_str()),
        ("prev", written.prev.as_str()),
        ("hash", written.hash.as_str()),
    ] {
        assert_eq!(
            fields.get(key).map(String::as_str),
            Some(value),
            "{key}: {fields:?}"
        );
    }
    assert!(!fields.contains_key("audit_file_error"));
}

#[test]
fn a_record_the_file_refused_still_reaches_the_log_stream() {
    capture();
    let dir = dir();
    let mut settings = AuditSettings::new(&dir.file);
    settings.max_file_size = ByteSize::kib(1);
    let log = AuditLog::open(&settings, "events-refused").unwrap();
    let mut refused = 0;
    while log.record(record(refused)).is_ok() {
        refused += 1;
        assert!(refused < 100);
    }
    let events = audit_events("events-refused");
    assert_eq!(events.len(), refused + 1);
    let (level, last) = events.last().unwrap();
    assert_eq!(*level, tracing::Level::WARN);
    assert_eq!(
        last.get("target").map(String::as_str),
        Some(format!("switch_{refused}").as_str())
    );
    let error = last
        .get("audit_file_error")
        .expect("the refusal is flagged");
    assert!(error.contains("is full"), "{error}");
}
