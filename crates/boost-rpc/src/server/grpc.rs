//! Small facts about gRPC over HTTP/2 that every server layer needs: is this
//! request gRPC, what is the method called, where is the final status, and how
//! to answer with an error without calling the handler.

use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use tonic::Code;

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// Whether the request speaks gRPC (`content-type: application/grpc…`).
pub(crate) fn is_grpc<B>(req: &Request<B>) -> bool {
    crate::header_scan::get(req.headers(), &CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The method as the metrics and spans name it: the path without its leading
/// slash, e.g. `hello.v1.Greeter/SayHello`.
pub(crate) fn method_of<B>(req: &Request<B>) -> &str {
    let path = req.uri().path();
    path.strip_prefix('/').unwrap_or(path)
}

/// The status a response stands for when its body ends without trailers:
/// `grpc-status` in the headers (trailers-only), else the HTTP status mapped
/// the way the gRPC spec maps it (2xx and 3xx count as `OK` for HTTP services).
///
/// One scan of the few response headers finds both `grpc-status` and
/// `content-type` (cheaper than a scan and a hashed lookup).
pub(crate) fn code_without_trailers<B>(res: &Response<B>) -> Code {
    let mut content_type = None;
    for (name, value) in res.headers() {
        if *name == GRPC_STATUS {
            return Code::from_bytes(value.as_bytes());
        }
        if content_type.is_none() && *name == CONTENT_TYPE {
            content_type = Some(value);
        }
    }
    let grpc = content_type.is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let status = res.status();
    if grpc && status == StatusCode::OK {
        // A gRPC response must end with a status; a missing one is a protocol error.
        return Code::Unknown;
    }
    code_for_http_status(status)
}

/// Maps an HTTP status to the gRPC code that describes it best.
pub(crate) fn code_for_http_status(status: StatusCode) -> Code {
    match status.as_u16() {
        100..=399 => Code::Ok,
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::AlreadyExists,
        412 => Code::FailedPrecondition,
        413 | 429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        501 => Code::Unimplemented,
        502 | 503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        500..=599 => Code::Internal,
        _ => Code::Unknown,
    }
}

/// Maps a gRPC code to the HTTP status an HTTP service should answer with.
pub(crate) fn http_status_for(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(crate) use crate::status_code::code_name;

/// Whether a server answering with `code` is at fault (OTel marks these spans
/// as errors; client mistakes such as `NOT_FOUND` are not the server's error).
pub(crate) fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// An answer a layer gives without calling the handler: a trailers-only gRPC
/// response (`grpc-status` in the headers, empty body) for gRPC requests, or
/// the matching HTTP status with an empty body for anything else.
pub(crate) fn error_response<B: Default>(grpc: bool, code: Code, message: &str) -> Response<B> {
    if grpc {
        return tonic::Status::new(code, message).into_http();
    }
    let mut res = Response::new(B::default());
    *res.status_mut() = http_status_for(code);
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_grpc_mappings_round_trip_for_handler_codes() {
        for code in [
            Code::Ok,
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::NotFound,
            Code::FailedPrecondition,
            Code::ResourceExhausted,
            Code::Unimplemented,
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Internal,
        ] {
            assert_eq!(
                code_for_http_status(http_status_for(code)),
                code,
                "{code:?}"
            );
        }
    }

    #[test]
    fn trailers_only_status_is_read_from_headers() {
        let res: Response<()> = tonic::Status::not_found("x").into_http();
        assert_eq!(code_without_trailers(&res), Code::NotFound);
    }
}
