//! [`ClientTls`]: the CAs a client trusts and the certificate it shows,
//! loaded, checked and kept current, as a `rustls::ClientConfig`.

use std::sync::Arc;

use boost_config::Problems;
use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::ServerName;

use crate::material::PairFiles;
use crate::metrics::Role;
use crate::reload::{Material, Verifier};
use crate::{ClientTlsSettings, TlsError, Watch};

/// TLS for the connections one client makes, from its [`ClientTlsSettings`].
///
/// The config verifies the server against `ca_file` (or the system's
/// roots), shows `cert_file` when set (mTLS), and follows rotation of all
/// three files: build it once per client.
///
/// ```no_run
/// use boost_tls::{ClientTls, ClientTlsSettings};
/// use rustls_pki_types::ServerName;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let settings = ClientTlsSettings::default()
///     .with_ca_file("/etc/tls/ca.crt")
///     .with_identity("/etc/tls/tls.crt", "/etc/tls/tls.key");
/// let tls = ClientTls::from_settings("profiles.tls", &settings)?;
/// tokio::spawn(tls.watch());
/// let connector = tokio_rustls::TlsConnector::from(tls.client_config([b"h2".to_vec()]));
/// let tcp = tokio::net::TcpStream::connect("10.0.0.7:50052").await?;
/// // `server_name` when set, else the endpoint's host.
/// let name = tls.server_name().cloned().unwrap_or(ServerName::try_from("profile-service")?);
/// let stream = connector.connect(name, tcp).await?;
/// # let _ = stream;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientTls {
    material: Arc<Material>,
    base: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("section", &self.material.section)
            .field("server_name", &self.server_name)
            .field("identity", &self.material.pair.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Checks `settings` (keys under `section`, e.g. `profiles.tls`), reads
    /// and checks every file, and builds the config.
    ///
    /// # Errors
    /// As [`ServerTls::from_settings`](crate::ServerTls::from_settings); also
    /// [`TlsError::SystemRoots`] when `ca_file` is unset and the system has
    /// no readable roots.
    pub fn from_settings(
        section: &str,
        settings: &ClientTlsSettings,
    ) -> Result<ClientTls, TlsError> {
        Problems::of(section, settings).into_result(format!("TLS `{section}`"))?;
        let pair = match (&settings.cert_file, &settings.key_file) {
            (Some(cert), Some(key)) => Some(PairFiles {
                cert_key: format!("{section}.cert_file"),
                cert_path: cert.clone(),
                key_key: format!("{section}.key_file"),
                key_path: key.clone(),
            }),
            _ => None,
        };
        let bundle = settings.ca_file.as_ref().map(|ca| {
            (
                format!("{section}.ca_file"),
                ca.clone(),
                crate::ClientAuth::Require,
            )
        });
        let material = Material::load(
            Role::Client,
            section,
            settings.reload_interval,
            pair,
            bundle,
        )?;
        let server_name = match &settings.server_name {
            Some(name) => {
                Some(
                    ServerName::try_from(name.clone()).map_err(|_| TlsError::Setup {
                        key: format!("{section}.server_name"),
                        problem: "is not a DNS name or IP address".to_owned(),
                    })?,
                )
            }
            None => None,
        };
        let base = base_config(&material)?;
        Ok(ClientTls {
            material: Arc::new(material),
            base: Arc::new(base),
            server_name,
        })
    }

    /// A `rustls::ClientConfig` with these ALPN protocols (`b"h2"` for
    /// gRPC). Its verifier and client certificate follow rotation.
    pub fn client_config(&self, alpn: impl IntoIterator<Item = Vec<u8>>) -> Arc<ClientConfig> {
        let mut config = ClientConfig::clone(&self.base);
        config.alpn_protocols = alpn.into_iter().collect();
        Arc::new(config)
    }

    /// The configured `server_name`: the name to verify and send as SNI
    /// instead of the endpoint's host.
    pub fn server_name(&self) -> Option<&ServerName<'static>> {
        self.server_name.as_ref()
    }

    /// Whether a client certificate is shown (mTLS).
    pub fn has_identity(&self) -> bool {
        self.material.pair.is_some()
    }

    /// A future that keeps the files current (see [`Watch`]); spawn it.
    pub fn watch(&self) -> Watch {
        Watch::new(Arc::clone(&self.material))
    }

    /// Re-reads the files now; `Ok(true)` when new files are in use.
    ///
    /// # Errors
    /// The new files were refused (the old ones stay).
    pub fn reload(&self) -> Result<bool, TlsError> {
        self.material.reload()
    }

    /// The config section these settings came from (`profiles.tls`).
    pub fn section(&self) -> &str {
        &self.material.section
    }
}

fn base_config(material: &Material) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(Arc::clone(&material.provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Setup {
            key: material.section.clone(),
            problem: error.to_string(),
        })?;
    let builder = match material.bundle.as_ref().map(|bundle| &bundle.verifier) {
        Some(Verifier::Servers(verifier)) => builder
            .dangerous() // not dangerous: WebPKI verification against `ca_file`, swappable
            .with_custom_certificate_verifier(verifier.clone()),
        _ => builder.with_root_certificates(system_roots(&material.section)?),
    };
    let mut config = match &material.pair {
        Some(pair) => builder.with_client_cert_resolver(pair.current.clone()),
        None => builder.with_no_client_auth(),
    };
    config.resumption = rustls::client::Resumption::store(material.client_sessions.clone());
    Ok(config)
}

/// The system's trusted roots (rustls-native-certs: the platform's store,
/// or `SSL_CERT_FILE`/`SSL_CERT_DIR`).
fn system_roots(section: &str) -> Result<Arc<RootCertStore>, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        let problem = match found.errors.first() {
            Some(error) => error.to_string(),
            None => "no certificates were found".to_owned(),
        };
        return Err(TlsError::SystemRoots {
            key: format!("{section}.ca_file"),
            problem,
        });
    }
    Ok(Arc::new(store))
}
