//! The connector: TCP with `TCP_NODELAY` and a connect timeout, and TLS for
//! `https://` base URLs through rustls (the `ring` provider) with the
//! system's root certificates.
//!
//! This is the one place a client's TLS is decided, so the kit's `tls`
//! settings (client certificates, private roots) plug in here by handing
//! [`connector`] another `rustls::ClientConfig`.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

use super::error::HttpClientError;

/// The connector type of every client.
pub(crate) type Connector = HttpsConnector<HttpConnector>;

/// A connector for `client`: plain HTTP always, HTTPS with `tls` (from
/// [`system_roots`] unless the caller brings its own).
pub(crate) fn connector(connect_timeout: Duration, tls: rustls::ClientConfig) -> Connector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

/// A TLS client configuration trusting the system's root certificates
/// (`rustls-native-certs`), or none at all when `https` is false (a client
/// of `http://` URLs only then reads no certificate files).
pub(crate) fn system_roots(
    client: &str,
    https: bool,
) -> Result<rustls::ClientConfig, HttpClientError> {
    let mut roots = rustls::RootCertStore::empty();
    if https {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(client, error = %error, "could not read some system root certificates");
        }
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!(
                client,
                "no system root certificates found: https:// calls will fail certificate checks \
                 (install the ca-certificates package)"
            );
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpClientError::Tls {
            client: client.to_owned(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
