//! `service_info`: the service's identity as a gauge that is always 1.

use std::sync::atomic::{AtomicBool, Ordering};

use boost_config::ServiceIdentity;
use metrics::{Key, Label, Recorder};
use metrics_exporter_prometheus::formatting::{
    sanitize_label_key, sanitize_label_value, write_help_line, write_type_line,
};

use crate::conventions::{self, SERVICE_INFO};

/// The `service_info` family:
/// `service_info{service_name, service_version, deployment_environment, team,
/// runbook_url, tier} 1`.
///
/// Its labels and value never change while the process runs, so it is
/// formatted once, at start-up, with the exporter's own formatting helpers
/// (the same escaping and layout as if the exporter rendered it), and appended
/// to every scrape — rather than registered as a gauge that the exporter
/// would snapshot, hash and re-escape on every scrape.
///
/// Should anything else record a `service_info` gauge, the exporter then
/// renders that family, so ours moves into it (see [`ServiceInfo::hand_to_exporter`]):
/// one family, never two.
#[derive(Debug)]
pub(crate) struct ServiceInfo {
    /// HELP, TYPE and the sample line, ready to append.
    text: String,
    labels: Vec<Label>,
    /// Set once the series lives in the exporter; then `text` is not appended.
    in_exporter: AtomicBool,
}

/// The labels of `service_info`, in the order they are exported.
fn identity_labels(identity: &ServiceIdentity) -> Vec<Label> {
    vec![
        Label::new(conventions::SERVICE_NAME, identity.name.clone()),
        Label::new(conventions::SERVICE_VERSION, identity.version.clone()),
        Label::new(
            conventions::DEPLOYMENT_ENVIRONMENT,
            identity.environment.clone(),
        ),
        Label::new(conventions::TEAM, identity.team.clone()),
        Label::new(conventions::RUNBOOK_URL, identity.runbook_url.clone()),
        Label::new(conventions::TIER, identity.tier.clone()),
    ]
}

impl ServiceInfo {
    pub(crate) fn new(identity: &ServiceIdentity) -> Self {
        let labels = identity_labels(identity);
        Self {
            text: format_family(&labels),
            labels,
            in_exporter: AtomicBool::new(false),
        }
    }

    /// Appends the family to a scrape, unless the exporter renders it.
    ///
    /// Call after the exporter rendered: together with the order in
    /// [`hand_to_exporter`](Self::hand_to_exporter) a scrape never holds the
    /// family twice.
    pub(crate) fn render_into(&self, out: &mut String) {
        if !self.in_exporter.load(Ordering::SeqCst) {
            out.push_str(&self.text);
        }
    }

    /// Something else records a `service_info` gauge through `recorder`: from
    /// now on our series is registered there too, and the exporter renders the
    /// family with both. The flag flips first, so a scrape racing this may miss
    /// our series once but never carries the family twice.
    pub(crate) fn hand_to_exporter(&self, recorder: &dyn Recorder) {
        if self.in_exporter.load(Ordering::Relaxed) || self.in_exporter.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let key = Key::from_parts(SERVICE_INFO, self.labels.clone());
        recorder
            .register_gauge(&key, &crate::handle::metadata())
            .set(1.0);
    }
}

/// HELP, TYPE and the one sample, laid out as the exporter lays out a family.
fn format_family(labels: &[Label]) -> String {
    let help = conventions::METRICS
        .iter()
        .find(|def| def.name == SERVICE_INFO)
        .map_or("", |def| def.help);
    let mut out = String::with_capacity(256);
    write_help_line(&mut out, SERVICE_INFO, None, None, help);
    write_type_line(&mut out, SERVICE_INFO, None, None, "gauge");
    out.push_str(SERVICE_INFO);
    out.push('{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&sanitize_label_key(label.key()));
        out.push_str("=\"");
        out.push_str(&sanitize_label_value(label.value()));
        out.push('"');
    }
    out.push_str("} 1\n\n");
    out
}

#[cfg(test)]
mod tests {
    use boost_config::ServiceIdentity;
    use metrics::{Key, Level, Metadata, Recorder};
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::identity_labels;
    use crate::conventions;

    /// What the exporter itself renders for the same gauge.
    fn exporter_rendering(identity: &ServiceIdentity) -> String {
        let recorder = PrometheusBuilder::new()
            .with_recommended_naming(true)
            .build_recorder();
        for def in conventions::METRICS {
            def.describe_to(&recorder);
        }
        let labels = identity_labels(identity);
        recorder
            .register_gauge(
                &Key::from_parts(conventions::SERVICE_INFO, labels),
                &Metadata::new(module_path!(), Level::INFO, None),
            )
            .set(1.0);
        recorder.handle().render()
    }

    #[test]
    fn is_byte_for_byte_what_the_exporter_renders() {
        let mut identity = ServiceIdentity::new("hello-service", "1.2.3");
        identity.team = "say \"hi\"\nteam \\ two".into();
        identity.runbook_url = "https://runbooks.example/hello-service?a=1&b=\"2\"".into();
        let ours = super::ServiceInfo::new(&identity);
        let mut scrape = String::new();
        ours.render_into(&mut scrape);
        assert_eq!(scrape, exporter_rendering(&identity));
    }

    #[test]
    fn is_not_appended_once_handed_to_the_exporter() {
        let ours = super::ServiceInfo::new(&ServiceIdentity::new("demo", "1.0.0"));
        let recorder = PrometheusBuilder::new().build_recorder();
        ours.hand_to_exporter(&recorder);
        ours.hand_to_exporter(&recorder);
        let mut scrape = recorder.handle().render();
        assert_eq!(scrape.matches("service_info{").count(), 1, "{scrape}");
        ours.render_into(&mut scrape);
        assert_eq!(scrape.matches("service_info{").count(), 1, "{scrape}");
    }

    #[test]
    fn a_service_info_gauge_recorded_elsewhere_joins_ours_in_one_family() {
        let identity = ServiceIdentity::new("demo", "1.0.0");
        let (recorder, handle) =
            crate::MetricsHandle::build(&crate::MetricsSettings::default(), &identity).unwrap();
        let families = |scrape: &str| scrape.matches("# TYPE service_info gauge").count();
        assert_eq!(families(&handle.render()), 1);

        metrics::with_local_recorder(&recorder, || {
            metrics::gauge!("service_info", "extra" => "x").set(1.0);
        });
        let scrape = handle.render();
        assert_eq!(families(&scrape), 1, "{scrape}");
        assert_eq!(
            scrape.matches("# HELP service_info ").count(),
            1,
            "{scrape}"
        );
        assert!(scrape.contains(r#"service_info{extra="x"} 1"#), "{scrape}");
        assert!(
            scrape.contains(r#"service_info{service_name="demo",service_version="1.0.0""#),
            "{scrape}"
        );
    }
}
