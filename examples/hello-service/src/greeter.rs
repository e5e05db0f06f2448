//! The `hello.v1.Greeter` handler: look up the caller's language (cached),
//! greet in it, and degrade to English rather than fail when the upstream
//! cannot answer in time.

use std::time::Duration;

use boost::prelude::*;
use boost::stats::CounterHandle as Counter;
use boost::tonic::{Code, Request, Response, Status};
use boost::tracing::{self, Instrument as _};

use crate::language::{FALLBACK, greet};
use crate::proto::greeter_server::{self, GreeterServer};
use crate::proto::profiles_client::ProfilesClient;
use crate::proto::{GetProfileRequest, HelloReply, HelloRequest};
use crate::settings::Settings;

/// `hello_degraded_total`: answers given in English because the profile could
/// not be had in time.
pub const DEGRADED: MetricDef = MetricDef::counter(
    "hello_degraded_total",
    "SayHello calls answered in English because the caller's profile could not be fetched in time \
     (label reason: upstream = profile-service failed after retries, deadline = too little time left, \
     switched_off = an operator turned the profiles_upstream switch off).",
);

/// Why a greeting fell back to English although the caller may have a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Degraded {
    /// profile-service failed (after the client's retries) or timed out.
    Upstream,
    /// The caller's deadline left no time to ask profile-service.
    Deadline,
    /// An operator turned the `profiles_upstream` switch off: profile-service
    /// is not called at all.
    SwitchedOff,
}

impl Degraded {
    /// The `reason` label of [`DEGRADED`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Degraded::Upstream => "upstream",
            Degraded::Deadline => "deadline",
            Degraded::SwitchedOff => "switched_off",
        }
    }
}

/// One greeting, and how it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Greeting {
    /// What the caller reads, e.g. `Bonjour, Bob!`.
    pub message: String,
    /// The language greeted in (`en` when the profile is unknown or missing).
    pub language: String,
    /// Set when the greeting is English only because the profile could not be had.
    pub degraded: Option<Degraded>,
}

/// The runtime switch that lets the on-call operator stop calling
/// profile-service (declared in [`Settings::kit_defaults`](crate::settings::Settings)).
pub const PROFILES_UPSTREAM: &str = "profiles_upstream";

/// The profile-service client (`client` label `profiles`), given the
/// descriptors of the protos it calls, so `[profiles.tape]` can record and
/// replay its calls (see `tests/tapes.rs`).
///
/// # Errors
/// When the client cannot be built from `settings` (or its tape cannot be read).
pub fn profiles_client(settings: &ClientSettings) -> Result<Client, RpcError> {
    Client::builder("profiles", settings)
        .descriptors(crate::proto::FULL_FILE_DESCRIPTOR_SET)
        .build()
}

/// Serves `hello.v1.Greeter`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Greeter {
    profiles: ProfilesClient<Client>,
    /// Off: greet in English without calling profile-service.
    profiles_upstream: Option<Switch>,
    languages: Cache<String, String>,
    deadline_reserve: Duration,
    degraded_upstream: Counter,
    degraded_deadline: Counter,
    degraded_switched_off: Counter,
}

impl Greeter {
    /// Builds the profile-service client and the language cache from
    /// `settings` (their metrics go to the recorder the service started),
    /// and takes the `profiles_upstream` switch from `switches`.
    ///
    /// # Errors
    /// When the client or the cache cannot be built from the settings, or
    /// `profiles_upstream` is not declared.
    pub fn new(settings: &Settings, switches: &Switches) -> Result<Self, BoxError> {
        let client = profiles_client(&settings.profiles)?;
        let languages = Cache::new(settings.profile_cache.clone())?;
        Ok(
            Self::from_parts(client, languages, settings.greeting.deadline_reserve)
                .with_profiles_switch(switches.get(PROFILES_UPSTREAM)?),
        )
    }

    /// Calls profile-service only while `switch` is on.
    #[must_use]
    pub fn with_profiles_switch(mut self, switch: Switch) -> Self {
        self.profiles_upstream = Some(switch);
        self
    }

    /// A greeter over an existing client and cache.
    pub fn from_parts(
        client: Client,
        languages: Cache<String, String>,
        deadline_reserve: Duration,
    ) -> Self {
        DEGRADED.describe();
        Self {
            profiles: ProfilesClient::new(client),
            profiles_upstream: None,
            languages,
            deadline_reserve,
            degraded_upstream: DEGRADED
                .register_counter(&[("reason", Degraded::Upstream.as_str())]),
            degraded_deadline: DEGRADED
                .register_counter(&[("reason", Degraded::Deadline.as_str())]),
            degraded_switched_off: DEGRADED
                .register_counter(&[("reason", Degraded::SwitchedOff.as_str())]),
        }
    }

    /// This greeter as a gRPC service for `Service::grpc` (which applies
    /// `[grpc.server]`'s message size limits to it).
    pub fn into_service(self) -> GreeterServer<Self> {
        GreeterServer::new(self)
    }

    /// Greets `name` in the language of their profile: English when they
    /// have none, and English (degraded) when the profile cannot be fetched
    /// before the deadline of the call being served.
    pub async fn greeting_for(&self, name: &str) -> Greeting {
        let (language, degraded) = match self.language_of(name).await {
            Ok(Some(language)) => (language, None),
            Ok(None) => (FALLBACK.to_owned(), None),
            Err(reason) => {
                match reason {
                    Degraded::Upstream => self.degraded_upstream.increment(1),
                    Degraded::Deadline => self.degraded_deadline.increment(1),
                    Degraded::SwitchedOff => self.degraded_switched_off.increment(1),
                }
                (FALLBACK.to_owned(), Some(reason))
            }
        };
        Greeting {
            message: greet(&language, name),
            language,
            degraded,
        }
    }

    /// The language of `name`'s profile (`None`: no such profile), from the
    /// cache, else from profile-service within what is left of the caller's
    /// deadline after the reserve.
    async fn language_of(&self, name: &str) -> Result<Option<String>, Degraded> {
        if self
            .profiles_upstream
            .as_ref()
            .is_some_and(|on| !on.is_on())
        {
            return Err(Degraded::SwitchedOff);
        }
        let mut profiles = self.profiles.clone();
        let reserve = self.deadline_reserve;
        let request = GetProfileRequest {
            name: name.to_owned(),
        };
        let lookup = async move {
            let mut request = Request::new(request);
            if let Some(left) = boost::rpc::deadline::remaining() {
                if left <= reserve {
                    return Err(LookupError::DeadlineTooNear(left));
                }
                // `set_timeout` can only shorten the call: `profiles.timeout`
                // still bounds it when the caller's deadline is far away.
                // (`CallOptions::timeout` would replace it.)
                request.set_timeout(left - reserve);
            }
            match profiles.get_profile(request).await {
                Ok(profile) => Ok(Some(profile.into_inner().language)),
                Err(status) if status.code() == Code::NotFound => Ok(None),
                Err(status) => Err(LookupError::Upstream(status)),
            }
        };
        let looked_up = self
            .languages
            .get_or_load(name.to_owned(), || {
                lookup.instrument(tracing::Span::current())
            })
            .await;
        looked_up.map_err(|error| match &*error {
            LookupError::DeadlineTooNear(left) => {
                tracing::warn!(name, left = ?left,
                    "deadline too near to look up the profile; greeting in English");
                Degraded::Deadline
            }
            LookupError::Upstream(status) => {
                let error = RpcError::from(status.clone());
                tracing::warn!(name, code = ?status.code(), error = %error,
                    "profile lookup failed after retries; greeting in English");
                Degraded::Upstream
            }
        })
    }
}

/// Why a profile could not be looked up (never cached).
#[derive(Debug)]
enum LookupError {
    /// Only this much of the caller's deadline was left: not enough to ask.
    DeadlineTooNear(Duration),
    /// profile-service failed, after the client's retries.
    Upstream(Status),
}

/// The longest `name` accepted, in bytes: longer ones are `INVALID_ARGUMENT`
/// before anything sends them upstream, caches, echoes or logs them.
pub const MAX_NAME_BYTES: usize = 256;

/// `INVALID_ARGUMENT` for an empty (or blank) name or one over
/// [`MAX_NAME_BYTES`].
pub fn check_name(name: &str) -> Result<(), ServiceError> {
    if name.trim().is_empty() {
        return Err(ServiceError::invalid_argument("name must not be empty"));
    }
    ServiceError::check_length("name", name, 1..=MAX_NAME_BYTES)
}

#[boost::tonic::async_trait]
impl greeter_server::Greeter for Greeter {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        check_name(&name)?;
        let greeting = self.greeting_for(&name).await;
        tracing::debug!(name, language = %greeting.language, degraded = greeting.degraded.map(Degraded::as_str),
            "greeted");
        Ok(Response::new(HelloReply {
            message: greeting.message,
        }))
    }
}
