//! The connector: TCP with `TCP_NODELAY` and a connect timeout, and TLS for
//! `https://` base URLs through rustls (the `ring` provider), configured by
//! the kit's one client `tls` shape ([`boost_tls::ClientTlsSettings`]).
//!
//! This is the one place a client's TLS is decided: the CA bundle that
//! verifies the upstream (`tls.ca_file`, or the system's roots), the client
//! certificate shown to it (`tls.cert_file` + `tls.key_file`, mTLS), the
//! name its certificate must carry (`tls.server_name`, for IP base URLs),
//! and the [`Watch`](boost_tls::Watch) that keeps those files current: new
//! connections use rotated files, pooled ones keep theirs.

use std::time::Duration;

use boost_tls::{ClientTls, ClientTlsSettings};
use hyper_rustls::{FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;

use super::error::HttpClientError;

/// The connector type of every client.
pub(crate) type Connector = HttpsConnector<HttpConnector>;

/// The task re-reading a client's TLS files; stopped with the last clone of
/// the client.
#[derive(Debug)]
pub(crate) struct WatchTask(tokio::task::JoinHandle<()>);

impl Drop for WatchTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Whether any key of `tls` that changes a connection is set.
pub(crate) fn configured(tls: &ClientTlsSettings) -> bool {
    tls.ca_file.is_some()
        || tls.cert_file.is_some()
        || tls.key_file.is_some()
        || tls.server_name.is_some()
}

/// A connector for the client `client`: plain HTTP always; HTTPS, when
/// `https` (some base URL is `https://`), from `tls` (keys under
/// `<client>.tls`). A client of `http://` URLs only reads no certificate
/// file and needs no system roots.
///
/// With files to watch, the watch task is spawned on the current Tokio
/// runtime and returned, to live as long as the client.
pub(crate) fn connector(
    client: &str,
    connect_timeout: Duration,
    tls: &ClientTlsSettings,
    https: bool,
) -> Result<(Connector, Option<WatchTask>), HttpClientError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    if !https {
        let config = plaintext_only(client)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        return Ok((connector, None));
    }
    let section = format!("{client}.tls");
    let loaded = ClientTls::from_settings(&section, tls).map_err(|e| HttpClientError::Tls {
        client: client.to_owned(),
        reason: e.to_string(),
    })?;
    let watches_files = tls.ca_file.is_some() || tls.cert_file.is_some();
    let watch = if watches_files {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| HttpClientError::Tls {
            client: client.to_owned(),
            reason: format!(
                "`{section}` names files to watch for rotation, which needs a Tokio runtime: \
                     create the client inside the runtime"
            ),
        })?;
        Some(WatchTask(runtime.spawn(loaded.watch())))
    } else {
        None
    };
    // HTTP/1.1 only: hyper-rustls wants no ALPN of its own here. The
    // verifier and client certificate inside follow rotation.
    let config = rustls::ClientConfig::clone(&loaded.client_config(Vec::new()));
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http();
    let builder = match loaded.server_name() {
        Some(name) => builder.with_server_name_resolver(FixedServerNameResolver::new(name.clone())),
        None => builder,
    };
    Ok((builder.enable_http1().wrap_connector(http), watch))
}

/// A TLS configuration that is never used (every base URL is `http://`):
/// no roots, no files read.
fn plaintext_only(client: &str) -> Result<rustls::ClientConfig, HttpClientError> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpClientError::Tls {
            client: client.to_owned(),
            reason: e.to_string(),
        })?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(config)
}
