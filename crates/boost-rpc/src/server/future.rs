//! The response future of [`Served`](super::Served), the server stack.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::stack::LayeredBody;
use super::{
    ResponseBody, catch_panic, deadline, load_shed, metrics, rate_limit, request_id, size_limit,
    trace,
};

/// The layers' futures around the handler's `F`, outermost first.
type Layered<F> = request_id::future::ResponseFuture<
    trace::future::ResponseFuture<
        metrics::future::ResponseFuture<
            rate_limit::future::ResponseFuture<
                load_shed::future::ResponseFuture<
                    deadline::future::ResponseFuture<
                        catch_panic::future::ResponseFuture<size_limit::future::ResponseFuture<F>>,
                    >,
                >,
            >,
        >,
    >,
>;

pin_project! {
    /// Response future of [`Served`](super::Served): the layers' futures,
    /// composed without allocating.
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: Layered<F>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body + Default,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response: Response<LayeredBody<B>> = std::task::ready!(self.project().inner.poll(cx))?;
        Poll::Ready(Ok(response.map(ResponseBody::new)))
    }
}
