//! [`Material`]: the files behind one `tls` section, what was loaded from
//! them, and re-reading them when they change.
//!
//! A re-read takes a file only when it passes every check the first load
//! made; otherwise the log says why (never what the file holds),
//! `tls_reload_total{outcome="error"}` counts it once per new content, and
//! the pair and CA in use stay.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use sha2::{Digest as _, Sha256};

use crate::TlsError;
use crate::material::{self, Digest, PairFiles};
use crate::metrics::{self, Role};
use crate::swap::{
    ClientSessions, Current, CurrentClientVerifier, CurrentServerVerifier, ServerSessions,
};

/// The rustls verifier a CA bundle is turned into.
pub(crate) enum Verifier {
    /// A server checking client certificates.
    Clients(Arc<CurrentClientVerifier>),
    /// A client checking server certificates.
    Servers(Arc<CurrentServerVerifier>),
}

/// A certificate chain + key in use, from its files.
pub(crate) struct PairSlot {
    pub(crate) files: PairFiles,
    pub(crate) current: Arc<Current<CertifiedKey>>,
}

/// A CA bundle in use, from its file.
pub(crate) struct BundleSlot {
    pub(crate) key: String,
    pub(crate) path: PathBuf,
    pub(crate) verifier: Verifier,
}

#[derive(Default)]
struct State {
    pair_digest: Option<Digest>,
    bundle_digest: Option<Digest>,
    /// The expiry series in use: (subject label).
    series: Option<String>,
    /// The `not_after` of the certificate in use (Unix seconds).
    not_after: Option<i64>,
    /// The CAs of the bundle in use, soonest to expire first.
    bundle_expiries: Vec<(String, i64)>,
    /// The bundle's expiry series in use: (subject label).
    bundle_series: Option<String>,
    /// What the last refused attempt read, so it is reported once.
    refused: Option<Digest>,
}

/// Everything one `tls` section loaded, and how to load it again.
pub(crate) struct Material {
    pub(crate) role: Role,
    /// The `role` label of this section's series (`grpc_server`).
    pub(crate) role_label: String,
    pub(crate) section: String,
    pub(crate) provider: Arc<CryptoProvider>,
    pub(crate) pair: Option<PairSlot>,
    pub(crate) bundle: Option<BundleSlot>,
    pub(crate) interval: Duration,
    /// Emptied whenever something new is taken.
    pub(crate) server_sessions: Arc<ServerSessions>,
    pub(crate) client_sessions: Arc<ClientSessions>,
    state: Mutex<State>,
}

impl Material {
    /// Sets the expiry gauge of the certificate in use again. A section
    /// loaded before the process's metrics recorder was installed (OTLP
    /// export's, which starts with tracing) recorded its gauge into nothing;
    /// the watch calls this when it starts and after every check, so the
    /// series is on `/metrics` from then on.
    pub(crate) fn publish_expiry(&self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let (Some(subject), Some(not_after)) = (&state.series, state.not_after) {
            metrics::set_expiry(&self.role_label, subject, not_after);
        }
        self.publish_bundle_expiry(&mut state);
    }

    /// The CA bundle's series (`role` = this section's role and `_ca`): the
    /// CA of the bundle that expires first among those still valid now (the
    /// last one once all have), so the expiry alerts fire before peers
    /// issued by it stop verifying. One series per bundle, however many CAs
    /// it holds; it moves on to the next CA when one expires (this runs
    /// after every check of the files).
    fn publish_bundle_expiry(&self, state: &mut State) {
        let now = crate::inspect::now();
        let Some((subject, not_after)) = state
            .bundle_expiries
            .iter()
            .find(|(_, not_after)| *not_after > now)
            .or(state.bundle_expiries.last())
            .cloned()
        else {
            return;
        };
        let role = metrics::ca_role(&self.role_label);
        metrics::set_expiry(&role, &subject, not_after);
        if let Some(old) = state.bundle_series.replace(subject.clone())
            && old != subject
        {
            metrics::retire_expiry(&role, &old);
        }
    }

    /// Loads every file of the section, checked; an error names the key,
    /// the file and what is wrong.
    pub(crate) fn load(
        role: Role,
        section: &str,
        interval: Duration,
        pair: Option<PairFiles>,
        bundle: Option<(String, PathBuf, crate::ClientAuth)>,
    ) -> Result<Material, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut state = State::default();
        let role_label = role.label(section);
        let pair = match pair {
            Some(files) => {
                let (cert, key, digest) = files.read()?;
                let loaded = files.parse(&cert, &key, &provider)?;
                state.pair_digest = Some(digest);
                let label = loaded.leaf.label();
                metrics::set_expiry(&role_label, &label, loaded.leaf.not_after);
                state.series = Some(label);
                state.not_after = Some(loaded.leaf.not_after);
                Some(PairSlot {
                    files,
                    current: Arc::new(Current::new(loaded.certified)),
                })
            }
            None => None,
        };
        let bundle = match bundle {
            Some((key, path, client_auth)) => {
                let (bytes, digest) = material::read_bundle(&key, &path)?;
                let roots = material::parse_bundle(&key, &path, &bytes)?;
                state.bundle_digest = Some(digest);
                state.bundle_expiries = roots.expiries;
                let verifier = match role {
                    Role::Server => {
                        let inner = client_verifier(section, &provider, roots.store, client_auth)?;
                        Verifier::Clients(Arc::new(CurrentClientVerifier {
                            current: Current::new(inner),
                            mandatory: client_auth == crate::ClientAuth::Require,
                        }))
                    }
                    Role::Client => {
                        let inner = server_verifier(section, &provider, roots.store)?;
                        Verifier::Servers(Arc::new(CurrentServerVerifier {
                            current: Current::new(inner),
                        }))
                    }
                };
                Some(BundleSlot {
                    key,
                    path,
                    verifier,
                })
            }
            None => None,
        };
        let material = Material {
            role,
            role_label,
            section: section.to_owned(),
            provider,
            pair,
            bundle,
            interval,
            server_sessions: Arc::new(ServerSessions::new()),
            client_sessions: Arc::new(ClientSessions::new()),
            state: Mutex::new(state),
        };
        let mut state = material
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        material.publish_bundle_expiry(&mut state);
        drop(state);
        Ok(material)
    }

    /// The files to watch.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        if let Some(pair) = &self.pair {
            files.push(pair.files.cert_path.clone());
            files.push(pair.files.key_path.clone());
        }
        if let Some(bundle) = &self.bundle {
            files.push(bundle.path.clone());
        }
        files
    }

    /// Re-reads the files; takes those whose content changed and passes the
    /// checks. `Ok(true)` when something new is in use. Logs and counts the
    /// outcome (a refusal once per new content).
    pub(crate) fn reload(&self) -> Result<bool, TlsError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut fingerprint = Sha256::new();
        let outcome = self.reload_locked(&mut state, &mut fingerprint);
        match &outcome {
            Ok(false) => state.refused = None,
            Ok(true) => {
                state.refused = None;
                self.server_sessions.clear();
                self.client_sessions.clear();
                metrics::count_reload(&self.role_label, true);
            }
            Err(error) => {
                fingerprint.update(error.to_string().as_bytes());
                let seen: Digest = fingerprint.finalize().into();
                if state.refused != Some(seen) {
                    state.refused = Some(seen);
                    metrics::count_reload(&self.role_label, false);
                    tracing::warn!(
                        tls = %self.section,
                        role = self.role.as_str(),
                        error = %error,
                        "new TLS files were refused; the certificate and CA in use stay"
                    );
                }
            }
        }
        outcome
    }

    /// Reads and checks every changed file first; only when all of them
    /// pass are the new pair and CA put in use, together (a good pair with a
    /// broken CA bundle takes neither).
    fn reload_locked(&self, state: &mut State, fingerprint: &mut Sha256) -> Result<bool, TlsError> {
        let mut new_pair = None;
        if let Some(pair) = &self.pair {
            let (cert, key, digest) = pair.files.read()?;
            fingerprint.update(digest);
            if state.pair_digest != Some(digest) {
                new_pair = Some((pair, pair.files.parse(&cert, &key, &self.provider)?, digest));
            }
        }
        let mut new_bundle = None;
        if let Some(bundle) = &self.bundle {
            let (bytes, digest) = material::read_bundle(&bundle.key, &bundle.path)?;
            fingerprint.update(digest);
            if state.bundle_digest != Some(digest) {
                let roots = material::parse_bundle(&bundle.key, &bundle.path, &bytes)?;
                let expiries = roots.expiries;
                let verifier = match &bundle.verifier {
                    Verifier::Clients(current) => {
                        let auth = if current.mandatory {
                            crate::ClientAuth::Require
                        } else {
                            crate::ClientAuth::Optional
                        };
                        NewVerifier::Clients(
                            current,
                            client_verifier(&self.section, &self.provider, roots.store, auth)?,
                        )
                    }
                    Verifier::Servers(current) => NewVerifier::Servers(
                        current,
                        server_verifier(&self.section, &self.provider, roots.store)?,
                    ),
                };
                new_bundle = Some((verifier, digest, expiries));
            }
        }
        // Everything checked: take it all.
        let changed = new_pair.is_some() || new_bundle.is_some();
        if let Some((pair, loaded, digest)) = new_pair {
            pair.current.set(loaded.certified);
            state.pair_digest = Some(digest);
            let label = loaded.leaf.label();
            metrics::set_expiry(&self.role_label, &label, loaded.leaf.not_after);
            state.not_after = Some(loaded.leaf.not_after);
            if let Some(old) = state.series.replace(label.clone())
                && old != label
            {
                metrics::retire_expiry(&self.role_label, &old);
            }
            tracing::info!(
                tls = %self.section,
                role = self.role.as_str(),
                subject = %label,
                not_after = %crate::inspect::show_time(loaded.leaf.not_after),
                "TLS certificate reloaded; new handshakes use it"
            );
        }
        if let Some((verifier, digest, expiries)) = new_bundle {
            match verifier {
                NewVerifier::Clients(current, inner) => current.current.set(inner),
                NewVerifier::Servers(current, inner) => current.current.set(inner),
            }
            state.bundle_digest = Some(digest);
            state.bundle_expiries = expiries;
            self.publish_bundle_expiry(state);
            tracing::info!(
                tls = %self.section,
                role = self.role.as_str(),
                "TLS CA bundle reloaded; new handshakes verify against it"
            );
        }
        Ok(changed)
    }
}

/// A checked CA bundle's verifier, not yet in use, and where it goes.
enum NewVerifier<'a> {
    Clients(
        &'a CurrentClientVerifier,
        Arc<dyn rustls::server::danger::ClientCertVerifier>,
    ),
    Servers(
        &'a CurrentServerVerifier,
        Arc<dyn rustls::client::danger::ServerCertVerifier>,
    ),
}

fn client_verifier(
    section: &str,
    provider: &Arc<CryptoProvider>,
    roots: Arc<rustls::RootCertStore>,
    client_auth: crate::ClientAuth,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let builder = WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(provider));
    let builder = if client_auth == crate::ClientAuth::Require {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder.build().map_err(|error| TlsError::Setup {
        key: format!("{section}.ca_file"),
        problem: error.to_string(),
    })
}

pub(crate) fn server_verifier(
    section: &str,
    provider: &Arc<CryptoProvider>,
    roots: Arc<rustls::RootCertStore>,
) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>, TlsError> {
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(provider))
        .build()
        .map_err(|error| TlsError::Setup {
            key: format!("{section}.ca_file"),
            problem: error.to_string(),
        })?;
    Ok(verifier)
}
