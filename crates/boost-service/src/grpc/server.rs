//! [`GrpcServer`]: a tonic router served under boost-rpc's server stack, with
//! health and reflection, inside the service's lifecycle.

use std::net::SocketAddr;

use boost_rpc::server::{ServedMethods, stack};
use prost::Message;
use tonic::service::Routes;
use tonic::transport::Server;

use super::authorization::AuthorizeLayer;
use super::error::GrpcError;
use super::health;
use super::settings::GrpcSettings;
use super::tls::{self, SplitConnInfoLayer};
use crate::Lifecycle;
use crate::connections::{self, Acceptor, ActivityLayer, ConnectionLimits, Registry};

/// A gRPC server for a service: the user's routes, `grpc.health.v1`, and
/// (when `grpc.server.reflection` is on) `grpc.reflection.v1`, all under
/// [`boost_rpc::server::stack`], on `grpc.listen`.
///
/// [`Service::grpc`](crate::Service::grpc) builds one from the service's
/// `[grpc]` section; hand one to [`ServiceBuilder::grpc`](crate::ServiceBuilder::grpc)
/// when using the shell alone. See the [module docs](super).
pub struct GrpcServer {
    settings: GrpcSettings,
    routes: Routes,
    descriptor_sets: Vec<&'static [u8]>,
    served: ServedMethods,
    listener: Option<std::net::TcpListener>,
    tls: Option<boost_tls::ServerTls>,
}

impl std::fmt::Debug for GrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcServer")
            .field("settings", &self.settings)
            .field("descriptor_sets", &self.descriptor_sets.len())
            .field("local_addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}

impl GrpcServer {
    /// Serves `routes` (e.g. `Routes::new(GreeterServer::new(svc))`, or any
    /// `tonic::service::Routes`) with `settings`.
    pub fn new(settings: GrpcSettings, routes: impl Into<Routes>) -> Self {
        GrpcServer {
            settings,
            routes: routes.into(),
            descriptor_sets: Vec::new(),
            served: ServedMethods::any(),
            listener: None,
            tls: None,
        }
    }

    /// The methods `routes` serve, so that metric labels and span names
    /// come from them and every other request path is `_OTHER` (see
    /// [`boost_rpc::server::served_methods`]); health and reflection are
    /// added to a closed set. [`Service::grpc`](crate::Service::grpc) sets
    /// it from the services it is given and their descriptor sets
    /// ([`served_methods`](super::served_methods)). Default: every path
    /// labelled as sent.
    #[must_use]
    pub fn served_methods(mut self, served: ServedMethods) -> Self {
        self.served = served;
        self
    }

    /// Registers an encoded `FileDescriptorSet` (what `tonic-prost-build`'s
    /// `file_descriptor_set_path` writes, usually `include_bytes!`-ed as
    /// `FILE_DESCRIPTOR_SET`): its services are listed by reflection and get
    /// their own health status. Call once per proto package.
    #[must_use]
    pub fn file_descriptor_set(mut self, encoded: &'static [u8]) -> Self {
        self.descriptor_sets.push(encoded);
        self
    }

    /// Binds `grpc.listen` now rather than when the service starts, so that
    /// [`local_addr`](Self::local_addr) is known (port `0`) and a busy port
    /// fails early.
    ///
    /// It also reads and checks the `grpc.tls` files, so a bad certificate
    /// fails here too.
    ///
    /// # Errors
    /// [`GrpcError::Config`] if the settings break a rule (the same rules as
    /// when the configuration loads), [`GrpcError::Tls`] if a `grpc.tls`
    /// file cannot be used, [`GrpcError::Bind`] if the address cannot be
    /// bound.
    pub fn bind(mut self) -> Result<Self, GrpcError> {
        boost_config::Problems::of("grpc", &self.settings)
            .into_result("the gRPC server")
            .map_err(|e| GrpcError::Config(Box::new(e)))?;
        if self.tls.is_none() {
            self.tls = load_tls(&self.settings)?;
        }
        if self.listener.is_none() {
            self.listener = Some(bind(self.settings.listen)?);
        }
        Ok(self)
    }

    /// The bound address, once [`bind`](Self::bind) ran.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `lifecycle` says to stop accepting, then lets in-flight
    /// calls finish (the service runner aborts the task at the lifecycle's
    /// deadline). Health follows the lifecycle's readiness.
    ///
    /// # Errors
    /// [`GrpcError`] if binding, building reflection or serving fails.
    pub async fn serve(self, lifecycle: Lifecycle) -> Result<(), GrpcError> {
        let GrpcServer {
            settings,
            mut routes,
            descriptor_sets,
            served,
            listener,
            tls,
        } = self;
        let served = served
            .service(HEALTH_SERVICE)
            .service("grpc.reflection.v1.ServerReflection")
            .service("grpc.reflection.v1alpha.ServerReflection");
        let (listener, tls) = match listener {
            Some(listener) => (listener, tls),
            None => {
                boost_config::Problems::of("grpc", &settings)
                    .into_result("the gRPC server")
                    .map_err(|e| GrpcError::Config(Box::new(e)))?;
                let tls = match tls {
                    Some(tls) => Some(tls),
                    None => load_tls(&settings)?,
                };
                (bind(settings.listen)?, tls)
            }
        };
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| GrpcError::Bind {
                addr: settings.listen,
                source,
            })?;
        let addr = listener.local_addr().unwrap_or(settings.listen);

        let (reporter, health_service) = tonic_health::server::health_reporter();
        routes = routes.add_service(health_service);
        if settings.server.reflection {
            // v1 for current tools, v1alpha for grpcio's reflection client and older
            // grpcurl; each lists both, so either version shows the same services.
            let reflection = || {
                let mut builder = tonic_reflection::server::Builder::configure()
                    .include_reflection_service(false)
                    .register_encoded_file_descriptor_set(
                        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
                    )
                    .register_encoded_file_descriptor_set(
                        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                    )
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
                for set in &descriptor_sets {
                    builder = builder.register_encoded_file_descriptor_set(set);
                }
                builder
            };
            routes = routes
                .add_service(reflection().build_v1().map_err(GrpcError::Reflection)?)
                .add_service(
                    reflection()
                        .build_v1alpha()
                        .map_err(GrpcError::Reflection)?,
                );
        }
        let health = tokio::spawn(health::follow_readiness(
            reporter,
            service_names(&descriptor_sets),
            lifecycle.clone(),
        ));

        // The kit's accept loop, not tonic's `TcpIncoming`: a connection cap,
        // `TCP_NODELAY` (tonic leaves Nagle on for sockets it is handed: ~6x
        // slower unary calls), back-off on `accept()` errors, and idle and
        // header-read timeouts (see `crate::connections`).
        let limits = connection_limits(&settings.server);
        connections::describe();
        let registry = std::sync::Arc::new(Registry::default());
        let acceptor = Acceptor::new(listener, limits, settings.server.tcp_keepalive);
        // Rotation: new handshakes use new files; stops with the server (also
        // when this future is dropped at the shutdown deadline).
        let _watch = tls
            .as_ref()
            .map(|tls| tls::AbortOnDrop(tokio::spawn(tls.watch())));
        let client_auth = tls
            .as_ref()
            .map(|tls| format!("{:?}", tls.client_auth()).to_lowercase());
        let incoming = tls::incoming(acceptor, limits, std::sync::Arc::clone(&registry), tls);
        tracing::info!(grpc = %addr, reflection = settings.server.reflection,
            max_connections = limits.max_connections, tls = client_auth.is_some(),
            client_auth = client_auth.as_deref().unwrap_or("none"), "gRPC server listening");
        let authorization = settings
            .authorization
            .is_active()
            .then(|| AuthorizeLayer::new(settings.authorization.clone()));
        let served = settings
            .server
            .apply(Server::builder())
            .layer(SplitConnInfoLayer)
            .layer(ActivityLayer(registry))
            .layer(stack(&settings.server).served_methods(served))
            .layer(tower::util::option_layer(authorization))
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, lifecycle.stop_accepting())
            .await;
        health.abort();
        tracing::info!(grpc = %addr, "gRPC server stopped; in-flight calls finished");
        served.map_err(GrpcError::Serve)
    }
}

/// The `grpc.tls` files, read and checked; `None` when TLS is off.
fn load_tls(settings: &GrpcSettings) -> Result<Option<boost_tls::ServerTls>, GrpcError> {
    tls::describe();
    boost_tls::ServerTls::from_settings("grpc.tls", &settings.tls).map_err(GrpcError::Tls)
}

/// The gRPC server's connection bounds (`grpc.server.*`).
fn connection_limits(server: &boost_rpc::server::ServerSettings) -> ConnectionLimits {
    ConnectionLimits {
        server: "grpc",
        max_connections: server.max_connections,
        probe_connections: server.probe_connections,
        idle_timeout: server.max_connection_idle,
        header_read_timeout: server.header_read_timeout,
        http1: false,
    }
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, GrpcError> {
    let bound = std::net::TcpListener::bind(addr).and_then(|l| {
        l.set_nonblocking(true)?;
        Ok(l)
    });
    bound.map_err(|source| GrpcError::Bind { addr, source })
}

/// `package.Service` for every service in the encoded descriptor sets.
/// The service `grpc.health.v1` serves.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The methods of `services` (their `NamedService::NAME`s): each method
/// listed in `sets` for a service found there, and every method of a
/// service that no set describes. Health and reflection are added by the
/// server. A set that does not decode adds nothing (reflection reports it).
pub fn served_methods(services: &[&str], sets: &[&[u8]]) -> ServedMethods {
    let mut described = std::collections::HashMap::<String, Vec<String>>::new();
    for set in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(*set) else {
            continue;
        };
        for file in set.file {
            let package = file.package.unwrap_or_default();
            for service in file.service {
                let name = service.name.unwrap_or_default();
                let full = if package.is_empty() {
                    name
                } else {
                    format!("{package}.{name}")
                };
                let methods = described.entry(full).or_default();
                methods.extend(service.method.into_iter().filter_map(|m| m.name));
            }
        }
    }
    let mut served = ServedMethods::only();
    for service in services {
        served = match described.get(*service) {
            Some(methods) => methods.iter().fold(served, |served, method| {
                served.method(&format!("{service}/{method}"))
            }),
            None => served.service(service),
        };
    }
    served
}

fn service_names(sets: &[&[u8]]) -> Vec<String> {
    let mut names = Vec::new();
    for set in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(*set) else {
            continue;
        };
        for file in set.file {
            let package = file.package.unwrap_or_default();
            for service in file.service {
                let name = service.name.unwrap_or_default();
                names.push(if package.is_empty() {
                    name
                } else {
                    format!("{package}.{name}")
                });
            }
        }
    }
    names
}

#[cfg(test)]
mod served_methods_tests {
    use super::*;

    #[test]
    fn described_services_are_exact_and_undescribed_ones_are_open() {
        let served = served_methods(
            &["hello.v1.Greeter", "other.v1.Undescribed"],
            &[boost_test_proto::FILE_DESCRIPTOR_SET],
        );
        assert_eq!(
            served.label("hello.v1.Greeter/SayHello"),
            "hello.v1.Greeter/SayHello"
        );
        assert_eq!(served.label("hello.v1.Greeter/Junk"), "_OTHER");
        // In the set but not served here: not a method of this server.
        assert_eq!(served.label("hello.v1.Profiles/GetProfile"), "_OTHER");
        assert_eq!(
            served.label("other.v1.Undescribed/Any"),
            "other.v1.Undescribed/Any"
        );
        assert_eq!(served.label("scan/x"), "_OTHER");
    }
}
