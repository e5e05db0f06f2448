//! `ServiceError` is one pointer wide, so handlers and helpers can return
//! `Result<_, ServiceError>` without tripping `clippy::result_large_err`
//! (this file is built by `cargo clippy --all-targets -- -D warnings`).

use boost_rpc::ServiceError;

/// A helper in the shape users write: clippy denies `result_large_err` here
/// if `ServiceError` grows past its limit (128 bytes).
#[deny(clippy::result_large_err)]
fn find_language(name: &str) -> Result<&'static str, ServiceError> {
    match name {
        "" => Err(ServiceError::invalid_argument("name must not be empty")),
        "bob" => Ok("fr"),
        other => Err(
            ServiceError::not_found(format!("no profile named {other:?}"))
                .with_reason("PROFILE_NOT_FOUND")
                .with_metadata("name", other),
        ),
    }
}

#[deny(clippy::result_large_err)]
fn check(name: &str) -> Result<(), ServiceError> {
    find_language(name)?;
    Ok(())
}

#[test]
fn service_error_is_pointer_sized() {
    assert!(
        size_of::<ServiceError>() <= 16,
        "ServiceError is {} bytes",
        size_of::<ServiceError>()
    );
    assert!(size_of::<Result<(), ServiceError>>() <= 16);
}

#[test]
fn result_of_service_error_keeps_code_reason_and_metadata() {
    assert_eq!(find_language("bob").ok(), Some("fr"));
    assert!(check("bob").is_ok());

    let err = check("zoe").err().map(tonic::Status::from);
    let status = err.as_ref().map(|s| (s.code(), s.message()));
    assert_eq!(
        status,
        Some((tonic::Code::NotFound, "no profile named \"zoe\""))
    );

    let err = find_language("")
        .err()
        .map(|e| (e.code(), e.reason().to_owned()));
    assert_eq!(
        err,
        Some((tonic::Code::InvalidArgument, "INVALID_ARGUMENT".to_owned()))
    );
}
