//! [`MetricsHandle`], [`install`]: build the recorder, render the scrape.

use std::sync::Arc;

use boost_config::{Problems, ServiceIdentity};
use metrics::{Key, Label, Metadata, Recorder};

use crate::conventions::{self, DURATION_BUCKETS_SECONDS};
use crate::process::ProcessMetrics;
use crate::store::{ScrapeFormat, Store};
use crate::{CardinalityGuard, Error, MetricsRecorder, MetricsSettings, runtime};

/// Installs the kit's recorder as the process-wide `metrics` recorder and
/// returns the handle that renders it.
///
/// It describes every [`conventions::METRICS`] entry (HELP + unit), exports all
/// histograms with buckets (the OpenTelemetry duration buckets unless
/// [`MetricsSettings::buckets`] says otherwise), sets `service_info` = 1 from
/// `identity`, and puts the [`CardinalityGuard`] in front of everything.
/// No HTTP listener is started: serve [`MetricsHandle::render`] yourself
/// (boost-service's admin server does, on `/metrics`).
///
/// # Errors
/// [`Error::Config`] when the settings break their rules, listing every
/// problem (nothing is installed then); [`Error::AlreadyInstalled`] when a
/// recorder is already installed (call it once per process).
pub fn install(
    settings: &MetricsSettings,
    identity: &ServiceIdentity,
) -> Result<MetricsHandle, Error> {
    let (recorder, handle) = MetricsHandle::build(settings, identity)?;
    metrics::set_global_recorder(recorder).map_err(|_| Error::AlreadyInstalled)?;
    Ok(handle)
}

/// Renders the metrics of one recorder; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct MetricsHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MetricsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsHandle")
            .field("recorder", &self.inner.recorder)
            .field("process_metrics", &self.inner.process.is_some())
            .field("runtime_metrics", &self.inner.runtime_metrics)
            .finish_non_exhaustive()
    }
}

struct Inner {
    recorder: MetricsRecorder,
    process: Option<ProcessMetrics>,
    runtime_metrics: bool,
}

impl MetricsHandle {
    /// Builds a recorder and its handle without installing anything globally —
    /// for tests, benches, or embedding next to another recorder. Record
    /// through the recorder with [`metrics::with_local_recorder`] or by calling
    /// [`Recorder`] methods on it.
    ///
    /// ```
    /// use boost_config::ServiceIdentity;
    /// use boost_metrics::{MetricsHandle, MetricsSettings};
    ///
    /// let (recorder, handle) =
    ///     MetricsHandle::build(&MetricsSettings::default(), &ServiceIdentity::new("demo", "1.0.0"))?;
    /// metrics::with_local_recorder(&recorder, || {
    ///     metrics::counter!("cache_requests_total", "cache" => "users", "result" => "hit").increment(1);
    /// });
    /// assert!(handle.render().contains(r#"cache_requests_total{cache="users",result="hit"} 1"#));
    /// # Ok::<(), boost_metrics::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] when the settings break their rules, listing every
    /// problem under its key (`metrics.cardinality_limit`, …).
    pub fn build(
        settings: &MetricsSettings,
        identity: &ServiceIdentity,
    ) -> Result<(MetricsRecorder, MetricsHandle), Error> {
        let subject = format!("the metrics of {}", identity.name);
        Problems::of(SECTION, settings)
            .into_result(subject.as_str())
            .map_err(Error::Config)?;
        let store = Store::new(DURATION_BUCKETS_SECONDS, &settings.buckets);
        let recorder =
            MetricsRecorder::new(CardinalityGuard::new(store, settings.cardinality_limit));

        for def in conventions::METRICS {
            def.describe_to(&recorder);
        }
        register_service_info(&recorder, identity);

        let handle = MetricsHandle {
            inner: Arc::new(Inner {
                recorder: recorder.clone(),
                process: settings.process_metrics.then(ProcessMetrics::default),
                runtime_metrics: settings.runtime_metrics,
            }),
        };
        Ok((recorder, handle))
    }

    /// The scrape: every metric in the Prometheus text exposition format
    /// (version 0.0.4), process and runtime metrics included. Serve it with
    /// `Content-Type: text/plain; version=0.0.4` ([`ScrapeFormat::content_type`]).
    pub fn render(&self) -> String {
        self.render_as(ScrapeFormat::Prometheus)
    }

    /// The scrape in `format`: [`ScrapeFormat::OpenMetrics`] adds each
    /// histogram bucket's latest exemplar (the `trace_id` of a sampled trace
    /// an observation was made in, see [`set_trace_id_source`](crate::set_trace_id_source))
    /// and ends with `# EOF`. Pick the format from the request's `Accept`
    /// header with [`ScrapeFormat::negotiate`]; boost-service's `/metrics` does.
    ///
    /// ```
    /// use boost_config::ServiceIdentity;
    /// use boost_metrics::{MetricsHandle, MetricsSettings, ScrapeFormat};
    ///
    /// let (recorder, handle) =
    ///     MetricsHandle::build(&MetricsSettings::default(), &ServiceIdentity::new("demo", "1.0.0"))?;
    /// metrics::with_local_recorder(&recorder, || {
    ///     metrics::counter!("cache_requests_total", "cache" => "users", "result" => "hit").increment(1);
    /// });
    /// let scrape = handle.render_as(ScrapeFormat::OpenMetrics);
    /// assert!(scrape.contains("# TYPE cache_requests counter\n"));
    /// assert!(scrape.contains(r#"cache_requests_total{cache="users",result="hit"} 1"#));
    /// assert!(scrape.ends_with("# EOF\n"));
    /// # Ok::<(), boost_metrics::Error>(())
    /// ```
    pub fn render_as(&self, format: ScrapeFormat) -> String {
        self.inner.recorder.describe_undescribed();
        let mut text = String::new();
        self.inner.recorder.render_into(&mut text, format);
        if let Some(process) = &self.inner.process {
            process.render_into(&mut text, format);
        }
        if self.inner.runtime_metrics {
            runtime::render_into(&mut text, format);
        }
        if format == ScrapeFormat::OpenMetrics {
            text.push_str("# EOF\n");
        }
        text
    }
}

/// The config section the settings are checked under: problem keys read
/// `metrics.buckets.<name>`, as the loader reports them.
const SECTION: &str = "metrics";

/// `service_info{service_name, service_version, …} 1`.
fn register_service_info(recorder: &dyn Recorder, identity: &ServiceIdentity) {
    let labels = vec![
        Label::new(conventions::SERVICE_NAME, identity.name.clone()),
        Label::new(conventions::SERVICE_VERSION, identity.version.clone()),
        Label::new(
            conventions::DEPLOYMENT_ENVIRONMENT,
            identity.environment.clone(),
        ),
        Label::new(conventions::TEAM, identity.team.clone()),
        Label::new(conventions::RUNBOOK_URL, identity.runbook_url.clone()),
        Label::new(conventions::TIER, identity.tier.clone()),
    ];
    let key = Key::from_parts(conventions::SERVICE_INFO, labels);
    recorder.register_gauge(&key, &metadata()).set(1.0);
}

pub(crate) fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), metrics::Level::INFO, None)
}
