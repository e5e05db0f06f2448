//! [`ServerTls`]: a server's certificate, key and client CA, loaded,
//! checked and kept current, as a `rustls::ServerConfig`.

use std::sync::Arc;
use std::time::Duration;

use boost_config::Problems;
use rustls::ServerConfig;

use crate::material::PairFiles;
use crate::metrics::Role;
use crate::reload::{Material, Verifier};
use crate::{ClientAuth, ServerTlsSettings, TlsError, Watch};

/// TLS for one server, from its [`ServerTlsSettings`].
///
/// ```no_run
/// use boost_tls::{ServerTls, ServerTlsSettings};
///
/// # async fn run() -> Result<(), boost_tls::TlsError> {
/// let settings = ServerTlsSettings::new("/etc/tls/tls.crt", "/etc/tls/tls.key");
/// // `None` when `enabled = false`. Errors name `grpc.tls.cert_file`, the file and the problem.
/// let Some(tls) = ServerTls::from_settings("grpc.tls", &settings)? else { return Ok(()) };
/// tokio::spawn(tls.watch()); // rotation: new handshakes use new files
/// let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config([b"h2".to_vec()]));
/// # let _ = acceptor;
/// # Ok(()) }
/// ```
///
/// Cloning is cheap; clones share the certificate in use.
#[derive(Clone)]
pub struct ServerTls {
    material: Arc<Material>,
    base: Arc<ServerConfig>,
    client_auth: ClientAuth,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("section", &self.material.section)
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Checks `settings` (its keys under `section`, e.g. `grpc.tls`), reads
    /// and checks every file, and builds the config. `Ok(None)` when TLS is
    /// off.
    ///
    /// # Errors
    /// A settings rule is broken ([`TlsError::Settings`]), or a file is
    /// missing, not PEM or the wrong PEM, a certificate is expired or not yet
    /// valid, the key is not the certificate's, or the CA bundle holds a
    /// certificate that is not a CA. Each names the key and the file.
    pub fn from_settings(
        section: &str,
        settings: &ServerTlsSettings,
    ) -> Result<Option<ServerTls>, TlsError> {
        Problems::of(section, settings).into_result(format!("TLS `{section}`"))?;
        if !settings.enabled {
            return Ok(None);
        }
        let (Some(cert), Some(key)) = (&settings.cert_file, &settings.key_file) else {
            // Unreachable after the rules above; answered as they would.
            return Err(TlsError::Setup {
                key: section.to_owned(),
                problem: "`cert_file` and `key_file` are required".to_owned(),
            });
        };
        let pair = PairFiles {
            cert_key: format!("{section}.cert_file"),
            cert_path: cert.clone(),
            key_key: format!("{section}.key_file"),
            key_path: key.clone(),
        };
        let bundle = match (settings.client_auth, &settings.ca_file) {
            (ClientAuth::Off, _) | (_, None) => None,
            (auth, Some(ca)) => Some((format!("{section}.ca_file"), ca.clone(), auth)),
        };
        let material = Material::load(
            Role::Server,
            section,
            settings.reload_interval,
            Some(pair),
            bundle,
        )?;
        let base = base_config(&material)?;
        Ok(Some(ServerTls {
            material: Arc::new(material),
            base: Arc::new(base),
            client_auth: settings.client_auth,
            handshake_timeout: settings.handshake_timeout,
        }))
    }

    /// A `rustls::ServerConfig` with these ALPN protocols (`b"h2"` for gRPC,
    /// `b"http/1.1"` for HTTP/1): its certificate resolver and client
    /// verifier follow rotation, so one config serves for the server's life.
    pub fn server_config(&self, alpn: impl IntoIterator<Item = Vec<u8>>) -> Arc<ServerConfig> {
        let mut config = ServerConfig::clone(&self.base);
        config.alpn_protocols = alpn.into_iter().collect();
        Arc::new(config)
    }

    /// A future that keeps the files current (see [`Watch`]); spawn it.
    pub fn watch(&self) -> Watch {
        Watch::new(Arc::clone(&self.material))
    }

    /// Re-reads the files now (what [`watch`](Self::watch) does on a change).
    /// `Ok(true)` when new files are in use; `Ok(false)` when nothing
    /// changed.
    ///
    /// # Errors
    /// The new files were refused (the old ones stay), for the reasons
    /// [`from_settings`](Self::from_settings) gives.
    pub fn reload(&self) -> Result<bool, TlsError> {
        self.material.reload()
    }

    /// Whether callers must, may or need not show a certificate.
    pub fn client_auth(&self) -> ClientAuth {
        self.client_auth
    }

    /// How long a handshake may take (`handshake_timeout`).
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    #[cfg(test)]
    pub(crate) fn material(&self) -> Arc<Material> {
        Arc::clone(&self.material)
    }

    /// The config section these settings came from (`grpc.tls`).
    pub fn section(&self) -> &str {
        &self.material.section
    }
}

fn base_config(material: &Material) -> Result<ServerConfig, TlsError> {
    let builder = ServerConfig::builder_with_provider(Arc::clone(&material.provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Setup {
            key: material.section.clone(),
            problem: error.to_string(),
        })?;
    let builder = match &material.bundle {
        Some(bundle) => match &bundle.verifier {
            Verifier::Clients(verifier) => builder.with_client_cert_verifier(verifier.clone()),
            Verifier::Servers(_) => builder.with_no_client_auth(),
        },
        None => builder.with_no_client_auth(),
    };
    let Some(pair) = &material.pair else {
        return Err(TlsError::Setup {
            key: material.section.clone(),
            problem: "a server needs `cert_file` and `key_file`".to_owned(),
        });
    };
    let mut config = builder.with_cert_resolver(pair.current.clone());
    config.session_storage = material.server_sessions.clone();
    Ok(config)
}
