//! `GET /v1/hello/{name}` → `{"message": "..."}`: the same greeting as
//! `hello.v1.Greeter/SayHello`, over HTTP/JSON on `http.listen`.
//!
//! One service, two protocols: both call [`Greeter::greeting_for`] after the
//! same [`check_name`], so a caller gets the same words, the same language
//! lookup and the same degradation either way. The kit's HTTP stack adds the
//! rest (request id, trace context, metrics by route, deadline, shedding,
//! problem+json errors).

use boost::axum::extract::{Path, State};
use boost::axum::routing::get;
use boost::axum::{Json, Router};
use boost::prelude::*;

use crate::greeter::{Degraded, Greeter, check_name};

/// The body of a greeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "boost::serde")]
pub struct HelloReply {
    /// What the caller reads, e.g. `Bonjour, Bob!`.
    pub message: String,
}

/// The HTTP routes of hello-service, for `Service::http`.
pub fn routes(greeter: Greeter) -> Router {
    Router::new()
        .route("/v1/hello/{name}", get(hello))
        .with_state(greeter)
}

async fn hello(
    State(greeter): State<Greeter>,
    Path(name): Path<String>,
) -> Result<Json<HelloReply>, Problem> {
    check_name(&name)?;
    let greeting = greeter.greeting_for(&name).await;
    boost::tracing::debug!(name, language = %greeting.language,
        degraded = greeting.degraded.map(Degraded::as_str), "greeted");
    Ok(Json(HelloReply {
        message: greeting.message,
    }))
}
