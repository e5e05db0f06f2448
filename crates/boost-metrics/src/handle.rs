//! [`MetricsHandle`], [`install`]: build the recorder, render the scrape.

use std::sync::Arc;
use std::time::Duration;

use boost_config::{Problems, ServiceIdentity};
use metrics::{Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::conventions::{self, DURATION_BUCKETS_SECONDS};
use crate::process::ProcessMetrics;
use crate::{CardinalityGuard, Error, MetricsRecorder, MetricsSettings, runtime};

/// How often [`MetricsHandle::spawn_upkeep`] is usually asked to run upkeep.
pub const DEFAULT_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder as the process-wide `metrics` recorder and
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
    prometheus: PrometheusHandle,
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
        let mut builder = PrometheusBuilder::new()
            .with_recommended_naming(true)
            .set_buckets(DURATION_BUCKETS_SECONDS)
            .map_err(|e| rejected_buckets(&subject, "(default)", &e))?;
        for (metric, buckets) in &settings.buckets {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(metric.clone()), buckets)
                .map_err(|e| rejected_buckets(&subject, metric, &e))?;
        }
        let prometheus = builder.build_recorder();
        let handle = prometheus.handle();
        let recorder = MetricsRecorder::new(CardinalityGuard::new(
            prometheus,
            settings.cardinality_limit,
        ));

        for def in conventions::METRICS {
            def.describe_to(&recorder);
        }
        register_service_info(&recorder, identity);

        let handle = MetricsHandle {
            inner: Arc::new(Inner {
                prometheus: handle,
                recorder: recorder.clone(),
                process: settings.process_metrics.then(ProcessMetrics::default),
                runtime_metrics: settings.runtime_metrics,
            }),
        };
        Ok((recorder, handle))
    }

    /// The scrape: every metric in the Prometheus text exposition format
    /// (version 0.0.4), process and runtime metrics included. Serve it with
    /// `Content-Type: text/plain; version=0.0.4`.
    pub fn render(&self) -> String {
        self.inner.recorder.describe_undescribed();
        // The exporter's own `render`, not `render_to_write` into a buffer of
        // ours: `render_to_write` is generic over the writer, so calling it
        // from here would compile the exporter's formatting loop in this crate,
        // where its helpers (label sanitising, name building) cannot be inlined
        // — measured with callgrind, 1.5–2% more instructions per scrape than
        // the copy compiled inside the exporter, while a buffer pre-sized from
        // the last scrape saves only ~0.1%.
        let mut text = self.inner.prometheus.render();
        if let Some(process) = &self.inner.process {
            process.render_into(&mut text);
        }
        if self.inner.runtime_metrics {
            runtime::render_into(&mut text);
        }
        text
    }

    /// Moves recorded histogram samples into their buckets. Without it they
    /// pile up in memory until the next render; run it every few seconds
    /// ([`spawn_upkeep`](Self::spawn_upkeep) does).
    pub fn run_upkeep(&self) {
        self.inner.prometheus.run_upkeep();
    }

    /// Spawns a task on the current tokio runtime that runs
    /// [`run_upkeep`](Self::run_upkeep) every `every` (e.g.
    /// [`DEFAULT_UPKEEP_INTERVAL`]) until the returned handle is aborted or the
    /// runtime shuts down.
    ///
    /// ```
    /// use boost_config::ServiceIdentity;
    /// use boost_metrics::{DEFAULT_UPKEEP_INTERVAL, Error, MetricsHandle, MetricsSettings};
    ///
    /// let (_recorder, handle) =
    ///     MetricsHandle::build(&MetricsSettings::default(), &ServiceIdentity::new("demo", "1.0.0"))?;
    ///
    /// // Outside a runtime it is an error, never a panic.
    /// assert!(matches!(handle.spawn_upkeep(DEFAULT_UPKEEP_INTERVAL), Err(Error::NoRuntime)));
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// runtime.block_on(async {
    ///     let upkeep = handle.spawn_upkeep(DEFAULT_UPKEEP_INTERVAL)?;
    ///     // … serve handle.render() on /metrics …
    ///     upkeep.abort();
    ///     Ok::<(), Error>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NoRuntime`] when called outside a tokio runtime; call
    /// [`run_upkeep`](Self::run_upkeep) every few seconds yourself there.
    pub fn spawn_upkeep(&self, every: Duration) -> Result<tokio::task::JoinHandle<()>, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        Ok(runtime.spawn(self.clone().upkeep_loop(every)))
    }

    async fn upkeep_loop(self, every: Duration) {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.run_upkeep();
        }
    }
}

/// The config section the settings are checked under: problem keys read
/// `metrics.buckets.<name>`, as the loader reports them.
const SECTION: &str = "metrics";

/// Buckets the exporter refused although they passed the settings' rules, as
/// the same kind of error.
fn rejected_buckets(subject: &str, metric: &str, error: &dyn std::fmt::Display) -> Error {
    let mut problems = Problems::new();
    problems.add(
        &format!("{SECTION}.buckets.{metric}"),
        format!("the Prometheus exporter rejects these buckets: {error}"),
    );
    match problems.into_result(subject) {
        Err(error) => Error::Config(error),
        // Unreachable: one problem was just added.
        Ok(()) => Error::Config(boost_config::ConfigError::Validation {
            service: subject.to_owned(),
            problems: Vec::new(),
        }),
    }
}

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
