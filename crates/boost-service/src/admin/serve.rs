//! The admin server's own accept loop: hyper's HTTP/1 under the kit's
//! connection cap, probe reserve and timeouts (see `crate::connections`),
//! with a graceful stop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt;

use super::body::close;
use super::text;
use crate::connections::{Acceptor, Activity, ConnectionLimits, GuardedBody, TrackedStream};

/// Serves `router` on `listener` until `stop` fires (or its sender is
/// dropped), then stops accepting and waits for open requests to finish.
/// With `tls`, each connection's handshake runs in its own task, within
/// `admin.tls.handshake_timeout` (see `super::tls`).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<boost_tls::ServerTls>,
    stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    crate::connections::describe();
    let graceful = GracefulShutdown::new();
    let mut acceptor = Acceptor::new(listener, limits, None);
    let handshakes = tls
        .as_ref()
        .map(|tls| super::tls::Handshakes::new("admin", tls));
    // Rotation: new handshakes use new files; stops with the server.
    let _watch = tls
        .as_ref()
        .map(|tls| crate::grpc::AbortOnDrop(tokio::spawn(tls.watch())));
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            admitted = acceptor.accept() => {
                let probe_only = admitted.probe_only;
                let peer = admitted.peer;
                let stream = TrackedStream::new(admitted, limits, None);
                let service = connection_service(router.clone(), stream.activity(), peer, probe_only);
                let mut builder = hyper::server::conn::http1::Builder::new();
                // The header deadline is the kit's (TrackedStream), for every request
                // head; a reserve connection serves one probe and closes.
                builder.header_read_timeout(None).keep_alive(!probe_only);
                let watcher = graceful.watcher();
                let handshakes = handshakes.clone();
                tokio::spawn(async move {
                    let served = match handshakes {
                        None => watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await,
                        Some(handshakes) => {
                            let Some(stream) = handshakes.accept(stream, peer).await else { return };
                            watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await
                        }
                    };
                    if let Err(e) = served {
                        tracing::debug!(peer = %peer, error = %e, "admin connection ended with an error");
                    }
                });
            }
        }
    }
    // Closes the listening socket: new connections are refused from now on.
    drop(acceptor);
    graceful.shutdown().await;
    Ok(())
}

/// The service of one connection: marks each request in flight (for the idle
/// timer), gives handlers the peer address, and keeps reserve connections to
/// `/health/*`.
fn connection_service(
    router: Router,
    activity: Arc<Activity>,
    peer: SocketAddr,
    probe_only: bool,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = http::Response<GuardedBody<Body>>,
    Error = Infallible,
    Future: Send,
> + Clone {
    hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let guard = activity.begin();
        let router = router.clone();
        async move {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = if probe_only && !request.uri().path().starts_with("/health/") {
                reserve_only()
            } else {
                match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            };
            Ok(response.map(|body| GuardedBody::new(body, guard)))
        }
    })
}

fn reserve_only() -> Response {
    close(text(
        StatusCode::SERVICE_UNAVAILABLE,
        "every admin connection is busy (admin.max_connections); this one only serves \
         /health/live and /health/ready\n",
    ))
}
