//! [`HttpServer`]: an axum router under boost-http's server stack, on the
//! kit's accept loop, inside the service's lifecycle.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use boost_http::HttpSettings;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tower::ServiceExt;

use super::error::HttpError;
use crate::Lifecycle;
use crate::connections::{Acceptor, Activity, ConnectionLimits, GuardedBody, TrackedStream};

/// TCP keepalive on accepted HTTP connections: dead peers are found at no
/// cost per request.
const TCP_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(60);

/// An HTTP server for a service: the user's router under
/// [`boost_http::server::stack`], on `http.listen`.
///
/// [`Service::http`](crate::Service::http) builds one from the service's
/// `[http]` section; hand one to [`ServiceBuilder::http`](crate::ServiceBuilder::http)
/// when using the shell alone. See the [module docs](super).
pub struct HttpServer {
    settings: HttpSettings,
    router: Router,
    listener: Option<std::net::TcpListener>,
    /// The `http.tls` files, loaded with the listener by [`HttpServer::bind`].
    tls: Option<boost_tls::ServerTls>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("settings", &self.settings)
            .field("local_addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Serves `router` with `settings`.
    pub fn new(settings: HttpSettings, router: Router) -> Self {
        HttpServer {
            settings,
            router,
            listener: None,
            tls: None,
        }
    }

    /// Binds `http.listen` now rather than when the service starts, so that
    /// [`local_addr`](Self::local_addr) is known (port `0`) and a busy port
    /// fails early.
    ///
    /// With `http.tls` on, its files are read and checked here too.
    ///
    /// # Errors
    /// [`HttpError::Config`] if the settings break a rule, [`HttpError::Tls`]
    /// if a `http.tls` file cannot be used, [`HttpError::Bind`] if the
    /// address cannot be bound.
    pub fn bind(mut self) -> Result<Self, HttpError> {
        check(&self.settings)?;
        if self.listener.is_none() {
            self.tls = load_tls(&self.settings)?;
            self.listener = Some(bind(self.settings.listen)?);
        }
        Ok(self)
    }

    /// The bound address, once [`bind`](Self::bind) ran.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `lifecycle` says to stop accepting, then closes the
    /// listener, tells keep-alive connections to close, and lets in-flight
    /// requests finish (the service runner aborts the task at the
    /// lifecycle's deadline).
    ///
    /// # Errors
    /// [`HttpError`] if the settings are invalid, a `http.tls` file cannot
    /// be used, or binding fails.
    pub async fn serve(self, lifecycle: Lifecycle) -> Result<(), HttpError> {
        let HttpServer {
            settings,
            router,
            listener,
            tls,
        } = self;
        let (listener, tls) = match listener {
            Some(listener) => (listener, tls),
            None => {
                check(&settings)?;
                let tls = load_tls(&settings)?;
                (bind(settings.listen)?, tls)
            }
        };
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| HttpError::Bind {
                addr: settings.listen,
                source,
            })?;
        let addr = listener.local_addr().unwrap_or(settings.listen);
        // `with_state(())` turns every handler into its route once, here; a
        // router called as it is would do that (and build the layers) again
        // on every request.
        let router = router
            .layer(boost_http::server::stack(&settings))
            .with_state(());
        let limits = ConnectionLimits {
            server: "http",
            max_connections: settings.max_connections,
            probe_connections: 0,
            idle_timeout: settings.idle_timeout,
            header_read_timeout: settings.header_read_timeout,
            http1: true,
        };
        crate::connections::describe();
        tracing::info!(http = %addr, max_connections = limits.max_connections, tls = tls.is_some(),
            "HTTP server listening");
        // With `http.tls`: each connection's handshake in its own task, within
        // `http.tls.handshake_timeout`, under the connection cap; rotation
        // (new handshakes use new files) stops with the server.
        let handshakes = tls
            .as_ref()
            .map(|tls| crate::admin::tls::Handshakes::new("http", tls));
        let _watch = tls
            .as_ref()
            .map(|tls| crate::grpc::AbortOnDrop(tokio::spawn(tls.watch())));

        let graceful = GracefulShutdown::new();
        let mut acceptor = Acceptor::new(listener, limits, Some(TCP_KEEPALIVE));
        let mut stop = std::pin::pin!(lifecycle.stop_accepting());
        loop {
            tokio::select! {
                () = &mut stop => break,
                admitted = acceptor.accept() => {
                    let peer = admitted.peer;
                    let stream = TrackedStream::new(admitted, limits, None);
                    let activity = stream.activity();
                    let router = router.clone();
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    // The header deadline is the kit's (TrackedStream), for every request head.
                    builder.header_read_timeout(None);
                    let watcher = graceful.watcher();
                    let handshakes = handshakes.clone();
                    tokio::spawn(async move {
                        let served = match handshakes {
                            None => {
                                let service = connection_service(router, activity, peer, None);
                                watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await
                            }
                            Some(handshakes) => {
                                let Some(stream) = handshakes.accept(stream, peer).await else { return };
                                // The verified client certificate's identity (mTLS), for
                                // handlers and `http.rate_limit` with `key = "peer"`.
                                let identity = boost_tls::PeerIdentity::from_chain(stream.get_ref().1.peer_certificates());
                                let service = connection_service(router, activity, peer, identity);
                                watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await
                            }
                        };
                        if let Err(e) = served {
                            tracing::debug!(peer = %peer, error = %e, "HTTP connection ended with an error");
                        }
                    });
                }
            }
        }
        // Closes the listening socket: new connections are refused from now on.
        drop(acceptor);
        graceful.shutdown().await;
        tracing::info!(http = %addr, "HTTP server stopped; in-flight requests finished");
        Ok(())
    }
}

/// The `http.tls` files, read and checked; `None` when TLS is off.
fn load_tls(settings: &HttpSettings) -> Result<Option<boost_tls::ServerTls>, HttpError> {
    boost_tls::ServerTls::from_settings("http.tls", &settings.tls).map_err(HttpError::Tls)
}

fn check(settings: &HttpSettings) -> Result<(), HttpError> {
    boost_config::Problems::of("http", settings)
        .into_result("the HTTP server")
        .map_err(|e| HttpError::Config(Box::new(e)))
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, HttpError> {
    let bound = std::net::TcpListener::bind(addr).and_then(|l| {
        l.set_nonblocking(true)?;
        Ok(l)
    });
    bound.map_err(|source| HttpError::Bind { addr, source })
}

/// The service of one connection: marks each request in flight (for the idle
/// timer) and gives handlers the peer address and, with mTLS, the caller's
/// [`PeerIdentity`](boost_tls::PeerIdentity).
fn connection_service(
    router: Router,
    activity: Arc<Activity>,
    peer: SocketAddr,
    identity: Option<boost_tls::PeerIdentity>,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = http::Response<GuardedBody<Body>>,
    Error = Infallible,
    Future: Send,
> + Clone {
    hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let guard = activity.begin();
        let router = router.clone();
        let identity = identity.clone();
        async move {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            if let Some(identity) = identity {
                request.extensions_mut().insert(identity);
            }
            let response: Response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| GuardedBody::new(body, guard)))
        }
    })
}
