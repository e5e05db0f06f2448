//! The `hello.v1.Profiles` handler: answers from an in-memory table, or from
//! PostgreSQL when `database.url` is set, and `NOT_FOUND` for names it does
//! not know.

use std::collections::BTreeMap;
use std::sync::Arc;

use boost::prelude::*;
use boost::tonic::{Request, Response, Status};
use boost::tracing;

use crate::proto::profiles_server::{self, ProfilesServer};
use crate::proto::{GetProfileRequest, Profile};

/// The longest `name` accepted, in bytes: longer ones are `INVALID_ARGUMENT`
/// before anything echoes or logs them (issue 13: a 1 MiB name made 2 MB of
/// trailers and a 1 MB log line).
pub const MAX_NAME_BYTES: usize = 256;

/// Serves `hello.v1.Profiles` from a fixed table or a database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Profiles {
    store: Store,
}

#[derive(Debug, Clone)]
enum Store {
    Table(Arc<BTreeMap<String, String>>),
    Database(boost::db::Database),
}

impl Default for Profiles {
    fn default() -> Self {
        Self::new(&BTreeMap::new())
    }
}

impl Profiles {
    /// Profiles for the names in `table` (name → language). Names are matched
    /// case-insensitively.
    pub fn new(table: &BTreeMap<String, String>) -> Self {
        let table = table
            .iter()
            .map(|(name, language)| (name.to_lowercase(), language.clone()))
            .collect();
        Self {
            store: Store::Table(Arc::new(table)),
        }
    }

    /// Profiles kept in PostgreSQL, table `profiles` (created and seeded by
    /// `migrations/`, applied at start with `database.migrations`). Each
    /// lookup keeps to the call's deadline.
    pub fn database(db: boost::db::Database) -> Self {
        Self {
            store: Store::Database(db),
        }
    }

    /// The profile of `name`; `INVALID_ARGUMENT` for an empty name or one
    /// over [`MAX_NAME_BYTES`], and `NOT_FOUND` (reason `PROFILE_NOT_FOUND`)
    /// for a name not in the table; from the database, `DEADLINE_EXCEEDED`
    /// or `UNAVAILABLE` when it does not answer in time.
    pub async fn find(&self, name: &str) -> Result<Profile, ServiceError> {
        if name.trim().is_empty() {
            return Err(ServiceError::invalid_argument("name must not be empty"));
        }
        ServiceError::check_length("name", name, 1..=MAX_NAME_BYTES)?;
        let key = name.to_lowercase();
        let language = match &self.store {
            Store::Table(table) => table.get(&key).cloned(),
            Store::Database(db) => language_in(db, &key).await?,
        };
        let Some(language) = language else {
            return Err(
                ServiceError::not_found(format!("no profile named {name:?}"))
                    .with_reason("PROFILE_NOT_FOUND"),
            );
        };
        Ok(Profile {
            name: name.to_owned(),
            language,
        })
    }

    /// This handler as a gRPC service for `Service::grpc` (which applies
    /// `[grpc.server]`'s message size limits to it).
    pub fn into_service(self) -> ProfilesServer<Self> {
        ProfilesServer::new(self)
    }
}

async fn language_in(
    db: &boost::db::Database,
    name: &str,
) -> Result<Option<String>, boost::db::DbError> {
    let mut conn = db.acquire().await?;
    let language = boost::sqlx::query_scalar("SELECT language FROM profiles WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut conn)
        .await?;
    Ok(language)
}

#[boost::tonic::async_trait]
impl profiles_server::Profiles for Profiles {
    /// `NOT_FOUND` (reason `PROFILE_NOT_FOUND`) for a name not in the table,
    /// `INVALID_ARGUMENT` for an empty or too long name.
    async fn get_profile(
        &self,
        request: Request<GetProfileRequest>,
    ) -> Result<Response<Profile>, Status> {
        let name = request.into_inner().name;
        let profile = self.find(&name).await;
        // The kit's log layer bounds field values (`tracing.max_field_value_size`).
        tracing::debug!(name, found = profile.is_ok(), "profile lookup");
        Ok(Response::new(profile?))
    }
}

#[cfg(test)]
mod tests {
    use boost::tonic;

    use super::*;
    use crate::proto::profiles_server::Profiles as _;

    fn table() -> Profiles {
        Profiles::new(&BTreeMap::from([("Bob".to_owned(), "fr".to_owned())]))
    }

    async fn get(name: &str) -> Result<Profile, Status> {
        let request = Request::new(GetProfileRequest {
            name: name.to_owned(),
        });
        table().get_profile(request).await.map(Response::into_inner)
    }

    #[boost::tokio::test(crate = "boost::tokio")]
    async fn known_name_has_its_language_whatever_the_case() {
        assert_eq!(get("bob").await.unwrap().language, "fr");
        assert_eq!(get("BOB").await.unwrap().language, "fr");
    }

    #[boost::tokio::test(crate = "boost::tokio")]
    async fn a_name_over_the_limit_is_invalid_and_not_echoed() {
        let status = get(&"z".repeat(1 << 20)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().len() < 100, "{}", status.message());
        assert!(!status.message().contains("zzz"), "{}", status.message());
        assert!(status.details().len() < 200);
        let at_limit = get(&"z".repeat(MAX_NAME_BYTES)).await.unwrap_err();
        assert_eq!(at_limit.code(), tonic::Code::NotFound);
    }

    #[boost::tokio::test(crate = "boost::tokio")]
    async fn unknown_name_is_not_found() {
        let status = get("zoe").await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert!(status.message().contains("zoe"), "{}", status.message());
    }

    #[boost::tokio::test(crate = "boost::tokio")]
    async fn unknown_name_is_a_service_error_with_its_reason() {
        let err = table().find("zoe").await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        assert_eq!(err.reason(), "PROFILE_NOT_FOUND");
    }

    #[boost::tokio::test(crate = "boost::tokio")]
    async fn empty_name_is_invalid() {
        let status = get(" ").await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }
}
