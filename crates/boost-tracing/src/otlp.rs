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
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

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
pub(crate) fn provider(
    settings: &OtlpSettings,
    identity: &ServiceIdentity,
    extra: Vec<Box<dyn SpanProcessor>>,
    redactor: &Redactor,
) -> Result<(SdkTracerProvider, Option<ExportRuntime>), Error> {
    if !(0.0..=1.0).contains(&settings.sample_ratio) {
        return Err(Error::InvalidSetting {
            key: "otlp.sample_ratio",
            reason: format!("{} is not between 0.0 and 1.0", settings.sample_ratio),
        });
    }
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

fn otlp_error(settings: &OtlpSettings, reason: impl Into<String>) -> Error {
    Error::Otlp {
        endpoint: without_userinfo(&settings.endpoint),
        reason: reason.into(),
    }
}

/// The endpoint with any `user:password@` replaced by `***@`: an error message
/// ends up in logs and crash reports, and credentials put in a URL must not.
fn without_userinfo(endpoint: &str) -> String {
    let authority_start = endpoint.find("://").map_or(0, |i| i + 3);
    let rest = &endpoint[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!(
            "{}***{}",
            &endpoint[..authority_start],
            &endpoint[authority_start + at..]
        ),
        None => endpoint.to_owned(),
    }
}

fn otlp_processor(settings: &OtlpSettings) -> Result<(BatchSpanProcessor, ExportRuntime), Error> {
    settings
        .endpoint
        .parse::<http::Uri>()
        .map_err(|e| otlp_error(settings, format!("the endpoint is not a valid URI: {e}")))?;
    let mut metadata = MetadataMap::new();
    for (name, value) in &settings.headers {
        let key = MetadataKey::from_bytes(name.as_bytes()).map_err(|_| {
            otlp_error(
                settings,
                format!("header name {name:?} is not valid gRPC metadata"),
            )
        })?;
        let value = MetadataValue::try_from(value.expose().as_str()).map_err(|_| {
            otlp_error(
                settings,
                format!("the value of header {name:?} is not printable ASCII"),
            )
        })?;
        metadata.insert(key, value);
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| otlp_error(settings, format!("cannot start the export runtime: {e}")))?;
    let exporter = {
        let _enter = rt.enter();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(settings.endpoint.clone())
            .with_timeout(settings.timeout)
            .with_metadata(metadata)
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
        .with_max_queue_size(settings.max_queue_size.max(1))
        .with_max_export_batch_size(settings.max_export_batch_size.max(1))
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
    use super::without_userinfo;

    #[test]
    fn error_endpoint_hides_credentials_in_the_url() {
        assert_eq!(
            without_userinfo("https://svc:s3cr3t@collector:4317/v1"),
            "https://***@collector:4317/v1"
        );
        assert_eq!(
            without_userinfo("user@collector:4317"),
            "***@collector:4317"
        );
    }

    #[test]
    fn error_endpoint_without_credentials_is_unchanged() {
        assert_eq!(
            without_userinfo("http://127.0.0.1:4317"),
            "http://127.0.0.1:4317"
        );
        // An `@` after the authority is not userinfo.
        assert_eq!(
            without_userinfo("http://collector:4317/a@b"),
            "http://collector:4317/a@b"
        );
    }
}
