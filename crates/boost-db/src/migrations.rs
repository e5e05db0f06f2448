//! [`MigrationReport`]: the migrations of `database.migrations` and, when
//! the database answers, which of them are applied — what
//! `<service> --print-migrations` prints and `GET /migrations` on the admin
//! server answers.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::database::Database;
use crate::error::DbError;

/// Most migrations a report lists (a directory is read whole by sqlx; the
/// report stays bounded all the same).
const MAX_LISTED: usize = 10_000;

/// Where one migration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MigrationState {
    /// The database was not asked (no URL, or it did not answer).
    Unknown,
    /// Applied, with the checksum of the file.
    Applied,
    /// Not applied yet: the next start applies it.
    Pending,
    /// Applied, but the file has changed since: the next start stops
    /// (`database.migrations`) until the file is restored.
    ChecksumMismatch,
    /// Recorded as failed (a migration outside a transaction that broke
    /// half-way): needs a person.
    Failed,
    /// Applied in the database, but no file of the directory has its
    /// version (a newer binary applied it, or the file was deleted).
    Missing,
}

impl MigrationState {
    /// The state as the report writes it (`applied`, `checksum_mismatch`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Applied => "applied",
            Self::Pending => "pending",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::Failed => "failed",
            Self::Missing => "missing",
        }
    }
}

/// One migration of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MigrationEntry {
    /// Its version (the file name's number).
    pub version: i64,
    /// Its description (the file name's words).
    pub description: String,
    /// The SHA-384 of its SQL, hex, as sqlx records it (empty for
    /// [`MigrationState::Missing`]).
    pub checksum: String,
    /// Where it stands.
    pub state: MigrationState,
}

/// The migrations of a directory and where each stands in the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The directory (`database.migrations`).
    pub dir: String,
    /// `checked`, `not configured` (no `database.url`), or why the
    /// database could not be asked (credentials masked).
    pub database: String,
    /// Every migration, in version order.
    pub migrations: Vec<MigrationEntry>,
}

impl MigrationReport {
    /// Reads the migrations of `dir` and, with `db`, the `_sqlx_migrations`
    /// table (read only: nothing is created or applied). A database that
    /// does not answer is reported in [`database`](Self::database), each
    /// migration then [`MigrationState::Unknown`].
    ///
    /// # Errors
    /// [`DbError::Migration`] when the directory cannot be read.
    pub async fn read(dir: &Path, db: Option<&Database>) -> Result<Self, DbError> {
        let shown = dir.display().to_string();
        let migrator = sqlx::migrate::Migrator::new(dir.to_path_buf())
            .await
            .map_err(|e| DbError::Migration {
                dir: shown.clone(),
                problem: format!("cannot be read: {e}"),
            })?;
        let mut migrations: Vec<MigrationEntry> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .take(MAX_LISTED)
            .map(|m| MigrationEntry {
                version: m.version,
                description: m.description.to_string(),
                checksum: hex(&m.checksum),
                state: MigrationState::Unknown,
            })
            .collect();
        let database = match db {
            None => "not configured".to_owned(),
            Some(db) => match applied(db).await {
                Ok(applied) => {
                    mark(&mut migrations, &applied);
                    "checked".to_owned()
                }
                Err(e) => format!("not checked: {e}"),
            },
        };
        Ok(Self {
            dir: shown,
            database,
            migrations,
        })
    }

    /// Whether any migration needs a person: a checksum mismatch, a failed
    /// or a missing one.
    pub fn has_problems(&self) -> bool {
        self.migrations.iter().any(|m| {
            matches!(
                m.state,
                MigrationState::ChecksumMismatch | MigrationState::Failed | MigrationState::Missing
            )
        })
    }

    /// The report as text, one line per migration.
    pub fn to_text(&self) -> String {
        let mut out = format!("migrations in {} (database: {})\n", self.dir, self.database);
        if self.migrations.is_empty() {
            out.push_str("  (none)\n");
        }
        for m in &self.migrations {
            let _ = writeln!(
                out,
                "  {:<20} {:<17} {} {}",
                m.version,
                m.state.as_str(),
                if m.checksum.is_empty() {
                    "-"
                } else {
                    &m.checksum[..m.checksum.len().min(16)]
                },
                m.description
            );
        }
        out
    }
}

/// `(version, checksum, success)` of every applied migration; none when the
/// table does not exist yet.
async fn applied(db: &Database) -> Result<Vec<(i64, Vec<u8>, bool)>, DbError> {
    let mut conn = db.acquire().await?;
    let rows = sqlx::query_as::<_, (i64, Vec<u8>, bool)>(
        "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut conn)
    .await;
    match rows {
        Ok(rows) => Ok(rows),
        Err(sqlx::Error::Database(e)) if e.code().is_some_and(|c| c == "42P01") => Ok(Vec::new()),
        Err(e) => Err(DbError::from(e)),
    }
}

fn mark(migrations: &mut Vec<MigrationEntry>, applied: &[(i64, Vec<u8>, bool)]) {
    for m in migrations.iter_mut() {
        m.state = match applied.iter().find(|(v, ..)| *v == m.version) {
            None => MigrationState::Pending,
            Some((_, _, false)) => MigrationState::Failed,
            Some((_, sum, true)) if hex(sum) != m.checksum => MigrationState::ChecksumMismatch,
            Some(_) => MigrationState::Applied,
        };
    }
    for (version, sum, _) in applied {
        if migrations.len() >= MAX_LISTED {
            break;
        }
        if !migrations.iter().any(|m| m.version == *version) {
            migrations.push(MigrationEntry {
                version: *version,
                description: String::new(),
                checksum: hex(sum),
                state: MigrationState::Missing,
            });
        }
    }
    migrations.sort_by_key(|m| m.version);
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: i64, checksum: &str) -> MigrationEntry {
        MigrationEntry {
            version,
            description: format!("m{version}"),
            checksum: checksum.to_owned(),
            state: MigrationState::Unknown,
        }
    }

    #[test]
    fn states_from_the_applied_table() {
        let mut list = vec![
            entry(1, "0a"),
            entry(2, "0b"),
            entry(3, "0c"),
            entry(4, "0d"),
        ];
        let applied = vec![
            (1, vec![0x0a], true),
            (2, vec![0xff], true),
            (3, vec![0x0c], false),
            (9, vec![0x09], true),
        ];
        mark(&mut list, &applied);
        let states: Vec<_> = list.iter().map(|m| (m.version, m.state)).collect();
        assert_eq!(
            states,
            vec![
                (1, MigrationState::Applied),
                (2, MigrationState::ChecksumMismatch),
                (3, MigrationState::Failed),
                (4, MigrationState::Pending),
                (9, MigrationState::Missing),
            ]
        );
        let report = MigrationReport {
            dir: "migrations".into(),
            database: "checked".into(),
            migrations: list,
        };
        assert!(report.has_problems());
        let text = report.to_text();
        assert!(text.contains("checksum_mismatch"), "{text}");
        assert!(text.contains("pending"), "{text}");
    }
}
