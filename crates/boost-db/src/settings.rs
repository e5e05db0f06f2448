//! [`DatabaseSettings`]: the `[database]` section.

use std::path::PathBuf;
use std::time::Duration;

use boost_config::{Document, Endpoint, Problems, Validate};
use boost_tls::ClientTlsSettings;
use serde::{Deserialize, Serialize};

/// Most connections one pool may hold: PostgreSQL's own default
/// `max_connections` is 100 for the whole server, shared by every replica.
pub const MAX_POOL_CONNECTIONS: u32 = 1000;

/// The `[database]` section: the PostgreSQL pool of this service.
///
/// Without `url` the service has no database and nothing is built.
///
/// ```
/// use std::time::Duration;
/// use boost_db::DatabaseSettings;
///
/// let settings: DatabaseSettings = toml::from_str(r#"
///     url = "postgres://app:s3cret@db.internal:5432/profiles"
///     max_connections = 20
///     statement_reserve = "20ms"
/// "#).unwrap();
/// assert!(boost_config::Problems::of("database", &settings).is_empty());
/// assert_eq!(settings.acquire_timeout, Duration::from_secs(2));
/// // The password is never shown.
/// assert!(!format!("{settings:?}").contains("s3cret"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = rules)]
#[non_exhaustive]
pub struct DatabaseSettings {
    /// The PostgreSQL URL, `postgres://user:password@host:port/dbname`.
    /// `?sslmode=verify-full` (or `verify-ca`: the CA only, not the host
    /// name) turns on TLS with the system's roots, as does any file in
    /// `database.tls` (then `verify-full` unless the URL says `verify-ca`);
    /// `sslmode=disable` or no `sslmode`: plain TCP. `require`, `prefer` and
    /// `allow` are refused (they accept any certificate). The credentials
    /// are masked wherever it is shown (logs, errors, `/config`); better
    /// still, give the whole URL through `<NAME>__DATABASE__URL_FILE`.
    /// Unset (the default): no database.
    pub url: Option<Endpoint>,
    /// Most connections the pool opens. From 1 to 1000. Default `10`.
    pub max_connections: u32,
    /// Connections the pool keeps open even when idle. At most
    /// `max_connections`. Default `0`.
    pub min_connections: u32,
    /// The longest a caller waits for a free connection when its call has
    /// no deadline (with one, it waits no longer than the deadline either);
    /// past it the call fails with `UNAVAILABLE`. More than `0s`, at most
    /// `60s`. Default `2s`.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// An idle connection is closed after this long. `0s`: never. At most
    /// `24h`. Default `10m`.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A connection is closed (when returned) after it has been open this
    /// long, so the pool follows failovers and rebalanced servers. `0s`:
    /// never. At most `24h`. Default `30m`.
    #[serde(with = "humantime_serde")]
    pub max_lifetime: Duration,
    /// The statement timeout of a query made outside any call's deadline
    /// (a background task); inside a call, the remaining deadline less
    /// `statement_reserve` (never more than this). From `1ms` to `24h`.
    /// Default `30s`.
    #[serde(with = "humantime_serde")]
    pub statement_timeout: Duration,
    /// Taken off the caller's remaining deadline to give the statement
    /// timeout, so a cancelled statement's error still reaches the caller
    /// in time. At most `10s`. Default `20ms`.
    #[serde(with = "humantime_serde")]
    pub statement_reserve: Duration,
    /// Queries taking longer are logged at warn level with their statement
    /// text (never their parameters). `0s`: none logged. At most `1h`.
    /// Default `500ms`.
    #[serde(with = "humantime_serde")]
    pub slow_query: Duration,
    /// A directory of sqlx migrations (`<version>_<name>.sql`, or
    /// `.up.sql`/`.down.sql` pairs) applied at start, before the service
    /// serves, under a PostgreSQL advisory lock so that replicas starting
    /// together apply each once; a failed migration stops the start. Relative
    /// to the working directory. Unset (the default): none applied.
    pub migrations: Option<PathBuf>,
    /// TLS to the database (the kit's client `tls` shape): `ca_file`, the
    /// CA bundle the server's certificate must chain to (`""`: the system's
    /// roots); `cert_file` and `key_file`, a client certificate for mTLS.
    /// Setting any file turns TLS on (`sslmode=verify-full`). Every file is
    /// checked at start, and read again by each new connection, so rotated
    /// files are used from the next connection on (connections already open
    /// keep theirs until `max_lifetime`); `reload_interval` paces the
    /// re-check that keeps the expiry gauge current and warns of a rotated
    /// file that does not pass. `server_name` is not supported here: the
    /// URL's host is the name verified.
    pub tls: ClientTlsSettings,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
            statement_timeout: Duration::from_secs(30),
            statement_reserve: Duration::from_millis(20),
            slow_query: Duration::from_millis(500),
            migrations: None,
            tls: ClientTlsSettings::default(),
        }
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);

/// How the connection to the database is secured, from the URL's
/// `sslmode` and `database.tls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tls {
    /// Plain TCP.
    Off,
    /// TLS, the certificate checked against the CA and the host name.
    VerifyFull,
    /// TLS, the certificate checked against the CA only.
    VerifyCa,
}

impl DatabaseSettings {
    /// Whether any file of `database.tls` is set.
    pub(crate) fn tls_files(&self) -> bool {
        self.tls.ca_file.is_some() || self.tls.cert_file.is_some() || self.tls.key_file.is_some()
    }

    /// The TLS mode, or what is wrong with the combination.
    pub(crate) fn tls_mode(&self) -> Result<Tls, String> {
        let sslmode = self
            .url
            .as_ref()
            .and_then(|url| url::Url::parse(url.expose()).ok())
            .and_then(|url| {
                url.query_pairs()
                    .find(|(key, _)| key == "sslmode")
                    .map(|(_, value)| value.into_owned())
            });
        match (sslmode.as_deref(), self.tls_files()) {
            (None, false) | (Some("disable"), false) => Ok(Tls::Off),
            (None, true) | (Some("verify-full"), _) => Ok(Tls::VerifyFull),
            (Some("verify-ca"), _) => Ok(Tls::VerifyCa),
            (Some("disable"), true) => Err(
                "sets sslmode=disable but database.tls has files; remove sslmode=disable to use TLS, or the files".to_owned(),
            ),
            (Some(mode @ ("require" | "prefer" | "allow")), _) => Err(format!(
                "sets sslmode={mode}, which accepts any certificate; use sslmode=verify-full (and database.tls.ca_file for a private CA)"
            )),
            (Some(other), _) => Err(format!(
                "sets sslmode={other}, not a PostgreSQL sslmode the kit takes; use verify-full, verify-ca or disable"
            )),
        }
    }
}

fn rules(settings: &DatabaseSettings, problems: &mut Problems) {
    if let Some(url) = &settings.url {
        url_rules(url, problems);
        if let Err(problem) = settings.tls_mode() {
            problems.add("url", problem);
        }
    }
    if settings.tls.server_name.is_some() {
        problems.add(
            "tls.server_name",
            "is not supported for the database: the URL's host is the name verified; write that name in database.url",
        );
    }
    if settings.migrations.is_some() && settings.url.is_none() {
        problems.add(
            "migrations",
            "is set but database.url is not; set the URL or remove migrations",
        );
    }
    if !(1..=MAX_POOL_CONNECTIONS).contains(&settings.max_connections) {
        problems.add(
            "max_connections",
            format!("must be from 1 to {MAX_POOL_CONNECTIONS}, e.g. 10"),
        );
    }
    if settings.min_connections > settings.max_connections {
        problems.add(
            "min_connections",
            format!(
                "is {} but max_connections is {}; lower it or raise max_connections",
                settings.min_connections, settings.max_connections
            ),
        );
    }
    if settings.acquire_timeout.is_zero() || settings.acquire_timeout > Duration::from_secs(60) {
        problems.add(
            "acquire_timeout",
            "must be more than 0s and at most 60s, e.g. \"2s\"",
        );
    }
    if settings.idle_timeout > DAY {
        problems.add(
            "idle_timeout",
            "must be at most 24h (0s: never), e.g. \"10m\"",
        );
    }
    if settings.max_lifetime > DAY {
        problems.add(
            "max_lifetime",
            "must be at most 24h (0s: never), e.g. \"30m\"",
        );
    }
    let statement = settings.statement_timeout;
    if statement < Duration::from_millis(1) || statement > DAY {
        problems.add(
            "statement_timeout",
            "must be at least 1ms and at most 24h, e.g. \"30s\"",
        );
    }
    if settings.statement_reserve > Duration::from_secs(10) {
        problems.add("statement_reserve", "must be at most 10s, e.g. \"20ms\"");
    }
    if settings.slow_query > Duration::from_secs(3600) {
        problems.add(
            "slow_query",
            "must be at most 1h (0s: none logged), e.g. \"500ms\"",
        );
    }
}

fn url_rules(url: &Endpoint, problems: &mut Problems) {
    let Ok(parsed) = url::Url::parse(url.expose()) else {
        problems.add(
            "url",
            format!("{url} is not a URL; write it as postgres://user:password@host:5432/dbname"),
        );
        return;
    };
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        problems.add(
            "url",
            format!("{url} is not a postgres:// URL; write it as postgres://user:password@host:5432/dbname"),
        );
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        problems.add("url", format!("{url} names no host"));
    }
    for (key, _) in parsed.query_pairs() {
        match &*key {
            // A password here would not be masked: only user:password@ is.
            "password" => problems.add(
                "url",
                "carries a password in its query (?password=); put it in the user:password@ part, which is masked",
            ),
            "sslrootcert" | "sslcert" | "sslkey" | "sslcrl" => problems.add(
                "url",
                format!("sets {key}= in its query; give TLS files as database.tls.ca_file, cert_file and key_file"),
            ),
            _ => {}
        }
    }
}
