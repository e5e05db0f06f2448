//! The OpenTelemetry tracer provider: resource from [`ServiceIdentity`], sampler, and (when
//! enabled) OTLP/gRPC export on a runtime of its own.
//!
//! The tonic exporter needs a tokio runtime to drive its connection. Borrowing the
//! application's runtime makes shutdown hang on a current-thread runtime (the flush waits for
//! I/O that only the blocked thread could drive), so export runs on a small dedicated
//! current-thread runtime on its own thread.

use std::time::Duration;

use boost_config::ServiceIdentity;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanProcessor,
    TracerProviderBuilder,
};
use tonic::metadata::{Ascii, MetadataKey, MetadataMap, MetadataValue};

use crate::Error;
use crate::redact::{REDACTED, Redactor};
use crate::settings::OtlpSettings;

/// The resource every exported span carries.
pub(crate) fn resource(identity: &ServiceIdentity) -> Resource {
    let mut attrs = vec![
        KeyValue::new("service.version", identity.version.clone()),
        KeyValue::new("deployment.environment.name", identity.environment.clone()),
    ];
    if !identity.team.is_empty() {
        attrs.push(KeyValue::new("service.namespace", identity.team.clone()));
    }
    Resource::builder()
        .with_service_name(identity.name.clone())
        .with_attributes(attrs)
        .build()
}

/// The dedicated runtime the exporter's connection lives on; stops when dropped.
pub(crate) struct ExportRuntime {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Builds the provider. Spans are recorded when OTLP export is on or `extra` processors were
/// given; otherwise only sampled-by-parent spans are, and ids still exist for correlation.
/// The settings have passed their [`Validate`](boost_config::Validate) rules.
pub(crate) fn provider(
    settings: &OtlpSettings,
    identity: &ServiceIdentity,
    extra: Vec<Box<dyn SpanProcessor>>,
    redactor: &Redactor,
) -> Result<(SdkTracerProvider, Option<ExportRuntime>), Error> {
    let recording = settings.enabled || !extra.is_empty();
    let root = if recording {
        Sampler::TraceIdRatioBased(settings.sample_ratio)
    } else {
        Sampler::AlwaysOff
    };
    let mut builder: TracerProviderBuilder = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(root)))
        .with_resource(resource(identity));
    for processor in extra {
        builder = builder.with_span_processor(Redacting {
            inner: processor,
            redactor: redactor.clone(),
        });
    }
    let mut runtime = None;
    if settings.enabled {
        let (processor, rt) = otlp_processor(settings)?;
        builder = builder.with_span_processor(Redacting {
            inner: Box::new(processor),
            redactor: redactor.clone(),
        });
        runtime = Some(rt);
    }
    Ok((builder.build(), runtime))
}

/// The metadata key for a configured header name: `_` is sent as `-`.
/// Environment variable names cannot hold a `-`
/// (`…__OTLP__HEADERS__X_API_KEY_FILE` reads as `x_api_key`), and collectors
/// and proxies expect `x-api-key` (nginx drops header names with `_`).
fn header_name(configured: &str) -> String {
    configured.replace('_', "-")
}

/// The gRPC metadata entry for the configured header `name` and its `value`, or what is wrong
/// with them (never quoting the value, a secret).
pub(crate) fn header(
    name: &str,
    value: &str,
) -> Result<(MetadataKey<Ascii>, MetadataValue<Ascii>), String> {
    let sent = header_name(name);
    let key = MetadataKey::from_bytes(sent.as_bytes()).map_err(|_| {
        format!(
            "{sent:?} is not a valid gRPC metadata name: use ASCII letters, digits and `-`, \
             not ending in `-bin`"
        )
    })?;
    let value = MetadataValue::try_from(value).map_err(|_| {
        format!("the value of header {sent:?} is not printable ASCII (the value is not shown)")
    })?;
    Ok((key, value))
}

/// An [`Error::Otlp`] for these settings. The endpoint is shown with any `user:password@`
/// masked, and so is every quotation of it in `reason` (library errors quote the URL they
/// were given): error messages end up in logs and crash reports.
fn otlp_error(settings: &OtlpSettings, reason: impl AsRef<str>) -> Error {
    Error::Otlp {
        endpoint: settings.endpoint.to_string(),
        reason: settings.endpoint.mask_in(reason.as_ref()),
    }
}

fn otlp_processor(settings: &OtlpSettings) -> Result<(BatchSpanProcessor, ExportRuntime), Error> {
    let uri = settings
        .endpoint
        .expose()
        .parse::<http::Uri>()
        .map_err(|e| otlp_error(settings, format!("the endpoint is not a valid URI: {e}")))?;
    let mut metadata = MetadataMap::new();
    for (name, value) in &settings.headers {
        let (key, value) =
            header(name, value.expose()).map_err(|problem| otlp_error(settings, problem))?;
        metadata.insert(key, value);
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| otlp_error(settings, format!("cannot start the export runtime: {e}")))?;
    let exporter = {
        let _enter = rt.enter();
        // opentelemetry-otlp stays without its `internal-logs` feature: with it, the exporter
        // logs the endpoint it was given, credentials and all, at debug level while it builds
        // (`TonicChannelBuilt`). A test below catches that if the feature is ever turned on.
        // (Not a scoped no-op subscriber around this call: setting any default dispatcher
        // makes `tracing::dispatcher::has_been_set()` true, which `init` relies on.)
        let builder = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(settings.endpoint.expose())
            .with_timeout(settings.timeout)
            .with_metadata(metadata);
        let builder = if uri.scheme_str() == Some("https") {
            // TLS through boost-tls (rotation included), on a channel of our own.
            let (channel, watch) = crate::otlp_tls::channel(&uri, &settings.tls, settings.timeout)
                .map_err(|problem| otlp_error(settings, problem))?;
            rt.spawn(watch);
            builder.with_channel(channel)
        } else {
            builder
        };
        builder
            .build()
            .map_err(|e| otlp_error(settings, e.to_string()))?
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("boost-otlp-export".into())
        .spawn(move || {
            rt.block_on(async {
                let _ = stopped.await;
            });
            rt.shutdown_timeout(Duration::from_millis(100));
        })
        .map_err(|e| otlp_error(settings, format!("cannot start the export thread: {e}")))?;

    let config = BatchConfigBuilder::default()
        .with_max_queue_size(settings.max_queue_size)
        .with_max_export_batch_size(settings.max_export_batch_size)
        .with_scheduled_delay(settings.scheduled_delay)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(config)
        .build();
    Ok((processor, ExportRuntime { stop: Some(stop) }))
}

/// Redacts span and span-event attributes named in the redact list before a processor (and
/// so an exporter) sees them: secrets must not reach the tracing backend either.
#[derive(Debug)]
struct Redacting {
    inner: Box<dyn SpanProcessor>,
    redactor: Redactor,
}

impl Redacting {
    fn redact(&self, attrs: &mut [KeyValue]) {
        for kv in attrs {
            if self.redactor.is_redacted(kv.key.as_str()) {
                kv.value = opentelemetry::Value::from(REDACTED);
            }
        }
    }
}

impl SpanProcessor for Redacting {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }
    fn on_end(&self, mut span: opentelemetry_sdk::trace::SpanData) {
        self.redact(&mut span.attributes);
        for event in span.events.events.iter_mut() {
            self.redact(&mut event.attributes);
        }
        self.inner.on_end(span);
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use boost_config::Endpoint;

    use super::*;

    fn settings(endpoint: &str) -> OtlpSettings {
        OtlpSettings {
            endpoint: Endpoint::new(endpoint),
            ..OtlpSettings::default()
        }
    }

    #[test]
    fn errors_hide_credentials_in_the_endpoint_and_in_the_reason() {
        let settings = settings("https://svc:s3cr3t@collector:4317/v1");
        let error = otlp_error(
            &settings,
            "invalid endpoint 'https://svc:s3cr3t@collector:4317/v1'",
        )
        .to_string();
        assert!(!error.contains("s3cr3t"), "{error}");
        assert!(error.contains("https://***@collector:4317/v1"), "{error}");
    }

    #[test]
    fn exporter_errors_quoting_the_endpoint_hide_its_credentials() {
        // Without a TLS feature the exporter rejects `https` and quotes the endpoint; with one
        // it builds, and there is no message to check.
        if let Err(error) = otlp_processor(&settings("https://svc:CANARY_PW@collector:4317")) {
            let error = error.to_string();
            assert!(!error.contains("CANARY_PW"), "{error}");
            assert!(error.contains("https://***@collector:4317"), "{error}");
        }
        let error = otlp_processor(&settings("http://svc:CANARY_PW@[::1"))
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.contains("not a valid URI"), "{error}");
        assert!(!error.contains("CANARY_PW"), "{error}");
    }

    #[test]
    fn building_the_exporter_logs_nothing_that_holds_the_credentials() {
        let capture = crate::testing::Capture::with_filter("trace");
        let built = {
            let _guard = capture.set_default();
            tracing::debug!(probe = "before");
            let built = otlp_processor(&settings("http://svc:CANARY_PW@127.0.0.1:1"));
            tracing::debug!(probe = "after");
            built
        };
        assert!(built.is_ok());
        let events = format!("{:?}", capture.events());
        assert!(
            events.contains("after"),
            "the capture saw nothing: {events}"
        );
        assert!(!events.contains("CANARY_PW"), "{events}");
    }

    #[test]
    fn errors_show_an_endpoint_without_credentials_unchanged() {
        let error = otlp_error(&settings("http://collector:4317/a@b"), "down").to_string();
        assert!(error.contains("http://collector:4317/a@b: down"), "{error}");
    }
}
