//! PromQL pieces: durations, numbers, strings, the SLI expressions.

use std::time::Duration;

use boost_metrics::conventions::{
    HTTP_RESPONSE_STATUS_CODE, HTTP_SERVER_REQUEST_DURATION, RPC_METHOD, RPC_SERVER_CALL_DURATION,
    RPC_STATUS_CODE,
};

use crate::settings::SERVER_FAULT_CODES;

/// A duration as PromQL and Prometheus' YAML take it: the largest whole unit
/// (`3d`, `6h`, `30m`, `5s`), else milliseconds; at least `1ms`.
pub(crate) fn duration(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// `d` times `scale`, in whole milliseconds, at least one.
pub(crate) fn scaled(d: Duration, scale: f64) -> Duration {
    let ms = (d.as_secs_f64() * 1000.0 * scale).round();
    Duration::from_millis(if ms.is_finite() && ms >= 1.0 {
        ms as u64
    } else {
        1
    })
}

/// A number for a rule, rounded to ten decimals so `14.4` stays `14.4`.
pub(crate) fn number(value: f64) -> String {
    let text = format!("{value:.10}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A PromQL double-quoted string.
pub(crate) fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The matcher of the `le` bucket at `threshold`, as the kit exports it
/// (`0.25`, `1`) and as Prometheus 3 may normalise it (`1.0`).
pub(crate) fn le_matcher(threshold: f64) -> String {
    let text = number(threshold);
    if threshold.fract() == 0.0 {
        format!("le=~\"{text}|{text}[.]0\"")
    } else {
        format!("le=\"{text}\"")
    }
}

/// The gRPC methods service-wide objectives leave out.
const NOT_THE_SERVICES: &str = "grpc[.](health|reflection)[.].*";

/// Which calls an SLI counts: the whole service (gRPC and HTTP, health and
/// reflection left out), or one gRPC method.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    pub(crate) job: &'a str,
    pub(crate) method: Option<&'a str>,
}

impl Scope<'_> {
    fn matchers(&self, extra: &str) -> String {
        let mut out = format!("job={}", string(self.job));
        match self.method {
            Some(method) => out.push_str(&format!(",{RPC_METHOD}={}", string(method))),
            // Health probes and reflection are the platform's calls, not the
            // service's: a `Watch` or reflection stream is timed whole and
            // would read as a slow call, and probes would dilute the error
            // ratio. (HTTP series have no `rpc_method`: an absent label is
            // "", which this matcher lets through.)
            None => out.push_str(&format!(",{RPC_METHOD}!~{}", string(NOT_THE_SERVICES))),
        }
        if !extra.is_empty() {
            out.push(',');
            out.push_str(extra);
        }
        out
    }

    /// `sum(rate(<metric>{…}[w])) or vector(0)`, so a series that does not
    /// exist yet (no error so far, no HTTP routes) counts as zero.
    fn rate(&self, metric: &str, extra: &str, window: &str) -> String {
        format!(
            "(sum(rate({metric}{{{}}}[{window}])) or vector(0))",
            self.matchers(extra)
        )
    }

    /// gRPC calls (and HTTP requests, service-wide) matching `rpc` / `http` per second.
    fn calls(&self, suffix: &str, rpc: &str, http: &str, window: &str) -> String {
        let grpc = self.rate(&format!("{RPC_SERVER_CALL_DURATION}{suffix}"), rpc, window);
        if self.method.is_some() {
            return grpc;
        }
        let http = self.rate(
            &format!("{HTTP_SERVER_REQUEST_DURATION}{suffix}"),
            http,
            window,
        );
        format!("{grpc} + {http}")
    }

    /// Every answered call per second.
    pub(crate) fn total(&self, window: &str) -> String {
        self.calls("_count", "", "", window)
    }

    /// The share of calls ending in a server fault; no sample at all
    /// (rather than NaN) while there are no calls, so averages over time
    /// skip those periods.
    pub(crate) fn availability_errors(&self, window: &str) -> String {
        let codes = SERVER_FAULT_CODES.join("|");
        let faults = self.calls(
            "_count",
            &format!("{RPC_STATUS_CODE}=~\"{codes}\""),
            &format!("{HTTP_RESPONSE_STATUS_CODE}=~\"5..\""),
            window,
        );
        format!("({faults}) / (({}) > 0)", self.total(window))
    }

    /// The share of calls slower than `threshold` seconds.
    pub(crate) fn latency_errors(&self, threshold: f64, window: &str) -> String {
        let le = le_matcher(threshold);
        let fast = self.calls("_bucket", &le, &le, window);
        let total = self.total(window);
        format!("(({total}) - ({fast})) / (({total}) > 0)")
    }

    /// The share of calls refused under load: gRPC `RESOURCE_EXHAUSTED`, HTTP `503`.
    pub(crate) fn shed(&self, window: &str) -> String {
        let shed = self.calls(
            "_count",
            &format!("{RPC_STATUS_CODE}=\"RESOURCE_EXHAUSTED\""),
            &format!("{HTTP_RESPONSE_STATUS_CODE}=\"503\""),
            window,
        );
        format!("({shed}) / ({})", self.total(window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_wide_slis_leave_out_health_and_reflection_but_a_method_does_not() {
        let service = Scope {
            job: "hello-service",
            method: None,
        }
        .total("5m");
        assert!(
            service.contains(r#"rpc_method!~"grpc[.](health|reflection)[.].*""#),
            "{service}"
        );
        let method = Scope {
            job: "hello-service",
            method: Some("hello.v1.Greeter/SayHello"),
        }
        .total("5m");
        assert!(!method.contains("!~"), "{method}");
        assert!(
            method.contains(r#"rpc_method="hello.v1.Greeter/SayHello""#),
            "{method}"
        );
    }

    #[test]
    fn durations_take_the_largest_whole_unit() {
        assert_eq!(duration(Duration::from_secs(3 * 86_400)), "3d");
        assert_eq!(duration(Duration::from_secs(90 * 60)), "90m");
        assert_eq!(duration(Duration::from_millis(300)), "300ms");
        assert_eq!(duration(Duration::ZERO), "1ms");
        assert_eq!(
            duration(scaled(Duration::from_secs(3600), 1.0 / 60.0)),
            "1m"
        );
    }

    #[test]
    fn numbers_stay_short() {
        assert_eq!(number(0.02 * 2_592_000.0 / 3600.0), "14.4");
        assert_eq!(number((100.0 - 99.9) / 100.0), "0.001");
        assert_eq!(number(1.0), "1");
    }

    #[test]
    fn integer_bounds_match_both_spellings() {
        assert_eq!(le_matcher(1.0), "le=~\"1|1[.]0\"");
        assert_eq!(le_matcher(0.25), "le=\"0.25\"");
    }
}
