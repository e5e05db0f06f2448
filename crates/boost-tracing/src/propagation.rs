//! W3C trace context (`traceparent` / `tracestate`) and baggage across process hops.
//!
//! Every hop between services carries the caller's span so the callee's spans join the same
//! trace. These functions work whether or not [`init`](crate::init) ran: they use a fixed
//! composite of the W3C [`TraceContextPropagator`] and [`BaggagePropagator`], never the global
//! propagator.
//!
//! ```
//! use boost_tracing::propagation::{extract_metadata, inject_metadata};
//! use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
//!
//! // The caller's span context (normally `tracing::Span::current().context()`).
//! let caller = SpanContext::new(
//!     TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
//!     SpanId::from_hex("00f067aa0ba902b7").unwrap(),
//!     TraceFlags::SAMPLED,
//!     false,
//!     TraceState::default(),
//! );
//! let cx = opentelemetry::Context::new().with_remote_span_context(caller.clone());
//!
//! // Client side: write the headers into the outgoing request's metadata.
//! let mut md = tonic::metadata::MetadataMap::new();
//! inject_metadata(&cx, &mut md);
//! assert_eq!(
//!     md.get("traceparent").unwrap(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
//! );
//!
//! // Server side: read them back and make the handler's span a child
//! // (`span.set_parent(parent)` with `boost_tracing::OpenTelemetrySpanExt`).
//! let parent = extract_metadata(&md);
//! assert_eq!(parent.span().span_context().trace_id(), caller.trace_id());
//! assert!(parent.span().span_context().is_remote());
//! ```
//!
//! A context without a valid span injects nothing (and baggage only when it has entries), and
//! extracting from headers without `traceparent` yields a context whose span context is
//! invalid, so a new trace starts.

use std::sync::LazyLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tonic::metadata::{KeyRef, MetadataKey, MetadataMap, MetadataValue};

/// W3C trace context followed by W3C baggage.
static PROPAGATOR: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
});

/// Writes `traceparent`, `tracestate` and `baggage` for `cx` into gRPC request metadata.
pub fn inject_metadata(cx: &Context, md: &mut MetadataMap) {
    PROPAGATOR.inject_context(cx, &mut MetadataInjector(md));
}

/// Reads `traceparent`, `tracestate` and `baggage` from gRPC metadata into a context whose span
/// context is the (remote) caller's span.
pub fn extract_metadata(md: &MetadataMap) -> Context {
    PROPAGATOR.extract_with_context(&Context::new(), &MetadataExtractor(md))
}

/// Writes `traceparent`, `tracestate` and `baggage` for `cx` into HTTP headers.
pub fn inject_headers(cx: &Context, headers: &mut HeaderMap) {
    PROPAGATOR.inject_context(cx, &mut HeaderInjector(headers));
}

/// Reads `traceparent`, `tracestate` and `baggage` from HTTP headers into a context whose span
/// context is the (remote) caller's span.
pub fn extract_headers(headers: &HeaderMap) -> Context {
    PROPAGATOR.extract_with_context(&Context::new(), &HeaderExtractor(headers))
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                KeyRef::Ascii(key) => Some(key.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// The names the W3C propagators read and write, as constant header names
/// (built at compile time): parsing one from the key checks it and copies it
/// into a new allocation on every call.
fn known_name(key: &str) -> Option<HeaderName> {
    match key {
        "traceparent" => Some(TRACEPARENT),
        "tracestate" => Some(TRACESTATE),
        "baggage" => Some(BAGGAGE),
        _ => None,
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = known_name(key).map_or_else(|| HeaderName::from_bytes(key.as_bytes()), Ok);
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// Maps with at most this many values are scanned for a known name rather
/// than looked up: a lookup by `&str` parses and hashes the key first (~300
/// instructions per key in callgrind, three keys per extraction), while a
/// request carries a dozen headers or so, and comparing header names is
/// cheap (different kinds differ at once, custom names by length first).
const SCAN_MAX: usize = 12;

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match known_name(key) {
            Some(known) if self.0.len() <= SCAN_MAX => self
                .0
                .iter()
                .find_map(|(name, value)| (*name == known).then_some(value)),
            _ => self.0.get(key),
        };
        value.and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };

    fn remote_cx() -> Context {
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("vendor", "v1")]).unwrap(),
        );
        Context::new()
            .with_remote_span_context(sc)
            .with_baggage([KeyValue::new("tenant", "acme")])
    }

    #[test]
    fn headers_round_trip_trace_state_and_baggage() {
        let mut headers = HeaderMap::new();
        inject_headers(&remote_cx(), &mut headers);
        assert_eq!(headers["tracestate"], "vendor=v1");
        assert_eq!(headers["baggage"], "tenant=acme");

        let cx = extract_headers(&headers);
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled());
        assert_eq!(sc.trace_state().get("vendor"), Some("v1"));
        assert_eq!(
            cx.baggage().get("tenant").map(|v| v.as_str().to_owned()),
            Some("acme".to_owned())
        );
    }

    #[test]
    fn headers_are_found_in_small_and_large_maps_alike() {
        for fillers in [0, SCAN_MAX, SCAN_MAX * 2] {
            let mut headers = HeaderMap::new();
            for i in 0..fillers {
                headers.insert(
                    HeaderName::try_from(format!("x-filler-{i}")).unwrap(),
                    HeaderValue::from(i),
                );
            }
            inject_headers(&remote_cx(), &mut headers);
            let extractor = HeaderExtractor(&headers);
            for key in [
                "traceparent",
                "tracestate",
                "baggage",
                "x-filler-0",
                "absent",
            ] {
                assert_eq!(
                    extractor.get(key),
                    headers.get(key).and_then(|v| v.to_str().ok()),
                    "{key} among {fillers}"
                );
            }
            let cx = extract_headers(&headers);
            assert_eq!(
                cx.span().span_context().span_id().to_string(),
                "00f067aa0ba902b7"
            );
        }
    }

    #[test]
    fn metadata_round_trip_keeps_ids_and_baggage() {
        let mut md = MetadataMap::new();
        inject_metadata(&remote_cx(), &mut md);
        let cx = extract_metadata(&md);
        assert_eq!(
            cx.span().span_context().span_id().to_string(),
            "00f067aa0ba902b7"
        );
        assert_eq!(
            cx.baggage().get("tenant").map(|v| v.as_str().to_owned()),
            Some("acme".to_owned())
        );
    }

    #[test]
    fn empty_context_injects_nothing_and_missing_headers_extract_invalid() {
        let mut md = MetadataMap::new();
        inject_metadata(&Context::new(), &mut md);
        assert!(md.is_empty());
        let cx = extract_metadata(&md);
        assert!(!cx.span().span_context().is_valid());
    }

    #[test]
    fn malformed_traceparent_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static("00-nothex-zz-01"));
        assert!(!extract_headers(&headers).span().span_context().is_valid());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn headers(traceparent: &[u8], tracestate: &[u8]) -> HeaderMap {
            let mut headers = HeaderMap::new();
            for (name, value) in [("traceparent", traceparent), ("tracestate", tracestate)] {
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    headers.insert(name, value);
                }
            }
            headers
        }

        proptest! {
            #[test]
            fn arbitrary_headers_extract_without_panic_and_without_growing(
                traceparent in proptest::collection::vec(any::<u8>(), 0..128),
                tracestate in proptest::collection::vec(any::<u8>(), 0..512),
            ) {
                let cx = extract_headers(&headers(&traceparent, &tracestate));
                let mut out = HeaderMap::new();
                inject_headers(&cx, &mut out);
                if let Some(tp) = out.get("traceparent") {
                    prop_assert_eq!(tp.len(), 55);
                }
                if let Some(ts) = out.get("tracestate") {
                    prop_assert!(ts.len() <= tracestate.len(), "{} > {}", ts.len(), tracestate.len());
                }
            }

            #[test]
            fn near_valid_traceparents_extract_without_panic(
                value in "[0-9a-fA-F]{2}-[0-9a-fA-F-]{30,34}-[0-9a-f]{14,18}-[0-9a-z]{1,3}(-.{0,8})?",
                tracestate in "([a-z0-9_*/@-]{0,12}=[ -~]{0,12},?){0,40}",
            ) {
                let cx = extract_headers(&headers(value.as_bytes(), tracestate.as_bytes()));
                let span = cx.span();
                let sc = span.span_context();
                if sc.is_valid() {
                    prop_assert_ne!(sc.trace_id(), TraceId::INVALID);
                    prop_assert_ne!(sc.span_id(), SpanId::INVALID);
                }
            }

            #[test]
            fn valid_contexts_round_trip(
                trace in 1u128..,
                span_id in 1u64..,
                sampled in any::<bool>(),
                vendor in "[a-z][a-z0-9_-]{0,10}",
                value in "[!-+--<>-~]{1,16}",
            ) {
                let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
                let state = TraceState::from_key_value([(vendor.as_str(), value.as_str())]).unwrap();
                let sc = SpanContext::new(
                    TraceId::from(trace), SpanId::from(span_id), flags, true, state,
                );
                let mut headers = HeaderMap::new();
                inject_headers(&Context::new().with_remote_span_context(sc.clone()), &mut headers);
                let back = extract_headers(&headers);
                let span = back.span();
                let got = span.span_context();
                prop_assert_eq!(got.trace_id(), sc.trace_id());
                prop_assert_eq!(got.span_id(), sc.span_id());
                prop_assert_eq!(got.is_sampled(), sampled);
                prop_assert_eq!(got.trace_state().get(&vendor), Some(value.as_str()));
            }
        }
    }
}
