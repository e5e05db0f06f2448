//! The metrics this crate records, through the `metrics` facade (the
//! recorder boost-metrics installs, or none).

/// Gauge: when the certificate in use expires, seconds since the epoch.
/// Labels: [`ROLE`], [`SUBJECT`]. One series per configured certificate;
/// alert on `tls_certificate_expiry_timestamp_seconds - time() < 14 * 86400`.
pub const TLS_CERTIFICATE_EXPIRY: &str = "tls_certificate_expiry_timestamp_seconds";

/// Counter: re-reads of changed certificate, key or CA files. Labels:
/// [`ROLE`], [`OUTCOME`] (`success`: the new files are in use; `error`: they
/// were refused and the old ones stay — the log line says why).
pub const TLS_RELOAD_TOTAL: &str = "tls_reload_total";

/// Label: who uses the certificate — the config section without its
/// trailing `.tls`, dots as `_`, then `_server` (a certificate the service
/// shows its callers) or `_client` (one it shows the servers it calls):
/// `grpc_server` (`grpc.tls`), `admin_server` (`admin.tls`),
/// `profiles_client` (`profiles.tls`); and that role with `_ca` for the
/// section's CA bundle (`ca_file`: `grpc_server_ca` verifies callers'
/// certificates, `profiles_client_ca` the server's), whose one series is
/// the CA that expires first. Bounded by the configuration's sections; two
/// sections with the same certificate are two series.
pub const ROLE: &str = "role";

/// Label: the certificate's subject (`CN=hello-service,O=team`), or its
/// first URI or DNS name when the subject is empty.
pub const SUBJECT: &str = "subject";

/// Label: `success` or `error`.
pub const OUTCOME: &str = "outcome";

/// Which side of a connection a certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Server,
    Client,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }

    /// The [`ROLE`] label of the certificate of `section` on this side:
    /// `grpc.tls` → `grpc_server`.
    pub(crate) fn label(self, section: &str) -> String {
        let name = section.strip_suffix(".tls").unwrap_or(section);
        format!("{}_{}", name.replace('.', "_"), self.as_str())
    }
}

/// The [`ROLE`] label of the CA bundle of the section whose role is `role`.
pub(crate) fn ca_role(role: &str) -> String {
    format!("{role}_ca")
}

/// Records when the certificate `subject` expires.
pub(crate) fn set_expiry(role: &str, subject: &str, not_after: i64) {
    #[allow(clippy::cast_precision_loss)] // seconds fit an f64 exactly until the year 285 million
    let value = not_after as f64;
    metrics::gauge!(TLS_CERTIFICATE_EXPIRY, ROLE => role.to_owned(), SUBJECT => subject.to_owned())
        .set(value);
}

/// The series of a certificate no longer in use. The `metrics` facade cannot
/// remove a series, so it reads `NaN`: no comparison (`< 14 * 86400`) is true
/// for it, so no expiry alert fires for a certificate that was replaced.
pub(crate) fn retire_expiry(role: &str, subject: &str) {
    metrics::gauge!(TLS_CERTIFICATE_EXPIRY, ROLE => role.to_owned(), SUBJECT => subject.to_owned())
        .set(f64::NAN);
}

/// Counts one reload that took new files (`true`) or refused them.
pub(crate) fn count_reload(role: &str, success: bool) {
    let outcome = if success { "success" } else { "error" };
    metrics::counter!(TLS_RELOAD_TOTAL, ROLE => role.to_owned(), OUTCOME => outcome).increment(1);
}
