//! The [`Validate`](boost_config::Validate) rules of [`TracingSettings`] and
//! [`OtlpSettings`]: every value that cannot work, reported under its key.

use std::time::Duration;

use boost_config::Problems;

use crate::settings::{OtlpSettings, TracingSettings};

/// Longest accepted wait (`flush_timeout`, `otlp.timeout`, `otlp.scheduled_delay`): an
/// orchestrator kills a stopping service long before (Kubernetes after 30 s by default), and
/// a longer export timeout or batch delay only hides a broken collector.
const MAX_WAIT: Duration = Duration::from_secs(5 * 60);

/// Most spans `otlp.max_queue_size` may hold: the queue is allocated up front, about 350 bytes
/// a span, so a million is already ~350 MB.
const MAX_QUEUE_SIZE: usize = 1_000_000;

/// The rules of [`TracingSettings`] (the `otlp` section has its own, [`otlp`]).
pub(crate) fn tracing(settings: &TracingSettings, problems: &mut Problems) {
    if let Err(error) = crate::filter::parse(&settings.filter) {
        let reason = match error {
            crate::Error::InvalidFilter { reason, .. } => reason,
            other => other.to_string(),
        };
        problems.add(
            "filter",
            format!(
                "{:?} is not a valid filter: {reason}; use RUST_LOG syntax, e.g. \
                 \"info,my_crate=debug\"",
                settings.filter
            ),
        );
    }
    for (i, name) in settings.redact.iter().enumerate() {
        if name.trim().is_empty() {
            problems.add(
                &format!("redact.{i}"),
                "is empty, so it redacts nothing; remove it or name a field such as \"password\"",
            );
        }
    }
    if settings.queue_lines == 0 {
        problems.add(
            "queue_lines",
            "is 0, so no log line could wait for the writer; set it to at least 1 (the default \
             is 16384)",
        );
    }
    wait("flush_timeout", settings.flush_timeout, "2s", problems);
    let max_value = settings.max_field_value_size.as_u64();
    if !(64..=1 << 20).contains(&max_value) {
        problems.add(
            "max_field_value_size",
            format!(
                "is {max_value} bytes; must be from 64 bytes (shorter cuts ordinary values) to \
                 1 MiB (longer lets one input make a huge log line); the default is \"4 KiB\""
            ),
        );
    }
}

/// The rules of [`OtlpSettings`].
pub(crate) fn otlp(settings: &OtlpSettings, problems: &mut Problems) {
    if settings.enabled
        && let Some(problem) = endpoint_problem(settings)
    {
        problems.add("endpoint", problem);
    }
    if settings.enabled
        && (settings.tls.ca_file.is_some()
            || settings.tls.cert_file.is_some()
            || settings.tls.key_file.is_some()
            || settings.tls.server_name.is_some())
        && settings.endpoint.expose().trim().starts_with("http://")
    {
        problems.add(
            "tls",
            format!(
                "is set but the endpoint {} is http:// (plaintext): write https:// to export \
                 over TLS, or remove the `tls` section",
                settings.endpoint
            ),
        );
    }
    for (name, value) in &settings.headers {
        if let Err(problem) = crate::otlp::header(name, value.expose()) {
            problems.add(&format!("headers.{name}"), problem);
        }
    }
    wait("timeout", settings.timeout, "10s", problems);
    if settings.max_queue_size == 0 {
        problems.add(
            "max_queue_size",
            "is 0, so every span would be dropped; set it to at least 1 (the default is 2048)",
        );
    } else if settings.max_queue_size > MAX_QUEUE_SIZE {
        problems.add(
            "max_queue_size",
            format!(
                "is {}, more than {MAX_QUEUE_SIZE}: the queue is allocated up front (about 350 \
                 bytes a span); the default is 2048",
                settings.max_queue_size
            ),
        );
    }
    if settings.max_export_batch_size == 0 {
        problems.add(
            "max_export_batch_size",
            "is 0, so no span could be exported; set it to at least 1 (the default is 512)",
        );
    } else if settings.max_queue_size > 0
        && settings.max_export_batch_size > settings.max_queue_size
    {
        problems.add(
            "max_export_batch_size",
            format!(
                "is {} but max_queue_size is {}: a batch is taken from the queue, so it cannot \
                 be larger; lower it or raise max_queue_size",
                settings.max_export_batch_size, settings.max_queue_size
            ),
        );
    }
    wait("scheduled_delay", settings.scheduled_delay, "5s", problems);
    // `contains` is false for NaN too.
    if !(0.0..=1.0).contains(&settings.sample_ratio) {
        problems.add(
            "sample_ratio",
            format!(
                "is {}; it is the fraction of new traces recorded and must be between 0.0 (none) \
                 and 1.0 (all)",
                settings.sample_ratio
            ),
        );
    }
}

/// `key` is a wait that must be more than zero and at most [`MAX_WAIT`].
fn wait(key: &str, value: Duration, default: &str, problems: &mut Problems) {
    if value.is_zero() {
        problems.add(
            key,
            format!("is 0s, so nothing would get the time to finish; the default is {default}"),
        );
    } else if value > MAX_WAIT {
        problems.add(
            key,
            format!(
                "is {}, longer than {}: nothing should wait that long (an orchestrator stops a \
                 service long before); the default is {default}",
                humantime::format_duration(value),
                humantime::format_duration(MAX_WAIT),
            ),
        );
    }
}

/// What is wrong with `otlp.endpoint`, if anything. Never quotes the credentials in it.
fn endpoint_problem(settings: &OtlpSettings) -> Option<String> {
    let shown = &settings.endpoint; // `Display` masks `user:password@`
    let uri = match settings.endpoint.expose().parse::<http::Uri>() {
        Ok(uri) => uri,
        Err(error) => {
            return Some(format!(
                "{shown} is not a valid URL: {}; give the collector's OTLP/gRPC URL, e.g. \
                 \"http://otel-collector:4317\"",
                settings.endpoint.mask_in(&error.to_string())
            ));
        }
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Some(format!(
            "{shown} is not an http:// or https:// URL with a host; give the collector's \
             OTLP/gRPC URL, e.g. \"http://otel-collector:4317\""
        ));
    }
    None
}
