//! The response future of [`Observe`](super::Observe).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use tonic::body::Body;

use super::{CallRecord, ResponseBody};
use crate::RpcError;
use crate::client::sanitize::Framing;
use crate::status_code::grpc_status;

pin_project_lite::pin_project! {
    /// Response future of [`Observe`](super::Observe): records the call
    /// when its status is known (a concrete future: nothing boxed per call).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: tracing::instrument::Instrumented<F>,
        pub(super) record: Option<CallRecord>,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response<ResponseBody>, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let passed = |body| ResponseBody {
            inner: body,
            record: None,
            framing: Framing::default(),
        };
        let Some(record) = this.record.take() else {
            return Poll::Ready(
                result
                    .map(|response| response.map(passed))
                    .map_err(|e| RpcError::from_boxed(e.into())),
            );
        };
        Poll::Ready(match result {
            Ok(response) => match grpc_status(response.headers()) {
                Some(code) => {
                    record.finish(code);
                    Ok(response.map(passed))
                }
                None => Ok(response.map(|body| ResponseBody {
                    inner: body,
                    record: Some(record),
                    framing: Framing::default(),
                })),
            },
            Err(e) => {
                let e = RpcError::from_boxed(e.into());
                record.finish(e.code());
                Err(e)
            }
        })
    }
}
