//! The pieces of a rustls config that rotation swaps: the certified key
//! ([`Current`] as a server and client cert resolver) and the peer verifier
//! ([`CurrentClientVerifier`], [`CurrentServerVerifier`]), and the session
//! caches that would let a resumed session skip both. Each handshake
//! reads the value in use when it starts; connections already established
//! keep what they negotiated.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, ResolvesClientCert, Tls12ClientSessionValue,
    Tls13ClientSessionValue,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{
    ClientHello, ResolvesServerCert, ServerSessionMemoryCache, StoresServerSessions,
};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, NamedGroup, SignatureScheme};

/// A value that is replaced whole; readers get an `Arc` of the one in use.
pub(crate) struct Current<T: ?Sized>(RwLock<Arc<T>>);

impl<T: ?Sized> Current<T> {
    pub(crate) fn new(value: Arc<T>) -> Self {
        Current(RwLock::new(value))
    }

    pub(crate) fn get(&self) -> Arc<T> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn set(&self, value: Arc<T>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

impl<T: ?Sized> fmt::Debug for Current<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key: only that there is one.
        f.write_str("Current(..)")
    }
}

impl ResolvesServerCert for Current<CertifiedKey> {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

impl ResolvesClientCert for Current<CertifiedKey> {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The client-certificate verifier in use (rebuilt when `ca_file` changes).
#[derive(Debug)]
pub(crate) struct CurrentClientVerifier {
    pub(crate) current: Current<dyn ClientCertVerifier>,
    pub(crate) mandatory: bool,
}

impl ClientCertVerifier for CurrentClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    /// No CA names are sent: the bundle can change under a running server,
    /// and an empty list tells a client to send whatever certificate it has
    /// (RFC 8446 §4.2.4). The certificate is verified against the bundle in
    /// use either way.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current
            .get()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current
            .get()
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current
            .get()
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current.get().supported_verify_schemes()
    }
}

/// The server-certificate verifier in use (rebuilt when `ca_file` changes).
#[derive(Debug)]
pub(crate) struct CurrentServerVerifier {
    pub(crate) current: Current<dyn ServerCertVerifier>,
}

impl ServerCertVerifier for CurrentServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.current.get().verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current
            .get()
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current
            .get()
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current.get().supported_verify_schemes()
    }
}

/// How many sessions each cache keeps (rustls' default).
const SESSION_CACHE_SIZE: usize = 256;

/// The server's session cache, emptied on every rotation: a session
/// resumed from before a rotation would skip the new certificate and the
/// new CA bundle (a caller authenticated by a CA that was just removed
/// would still get in), so after a rotation every caller does a full
/// handshake once.
#[derive(Debug)]
pub(crate) struct ServerSessions(Current<ServerSessionMemoryCache>);

impl ServerSessions {
    pub(crate) fn new() -> ServerSessions {
        ServerSessions(Current::new(ServerSessionMemoryCache::new(
            SESSION_CACHE_SIZE,
        )))
    }

    pub(crate) fn clear(&self) {
        self.0
            .set(ServerSessionMemoryCache::new(SESSION_CACHE_SIZE));
    }
}

impl StoresServerSessions for ServerSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.0.get().put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get().get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get().take(key)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// The client's session cache, emptied on every rotation for the same
/// reason: a resumed session would skip verifying the server against a new
/// CA bundle, and would not show the server the new client certificate.
#[derive(Debug)]
pub(crate) struct ClientSessions(Current<ClientSessionMemoryCache>);

impl ClientSessions {
    pub(crate) fn new() -> ClientSessions {
        ClientSessions(Current::new(Arc::new(ClientSessionMemoryCache::new(
            SESSION_CACHE_SIZE,
        ))))
    }

    pub(crate) fn clear(&self) {
        self.0
            .set(Arc::new(ClientSessionMemoryCache::new(SESSION_CACHE_SIZE)));
    }
}

impl ClientSessionStore for ClientSessions {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.0.get().set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.0.get().kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.0.get().set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.0.get().tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.0.get().remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.0.get().insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.0.get().take_tls13_ticket(server_name)
    }
}
