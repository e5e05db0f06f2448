//! [`Loader`]: the builder that reads every layer and produces a [`Loaded<T>`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::de::{self, DeErrorKind};
use crate::error::{ConfigError, Problem, ProblemKind};
use crate::identity::env_prefix;
use crate::loaded::Loaded;
use crate::source::Source;
use crate::tree::{self, KeyPath, Leaf, Provenance, Removed, Table, dotted};
use crate::validate::{Problems, Validate};
use crate::{args, defaults, env, files, suggest};

/// Where the environment came from when nothing named it (`dev`).
const DEFAULT_ENVIRONMENT: &str = "default environment";

/// How many deserialisation passes one load makes at most. Unknown keys are
/// all found in one pass; each other problem (a bad value) costs a pass.
const MAX_PASSES: usize = 64;

/// The fewest passes a load makes, however large its configuration.
const MIN_PASSES: usize = 8;

/// How many keys the passes of one load visit together at most: a larger
/// configuration gets fewer passes, so loading stays linear in its size.
const PASS_BUDGET: usize = 2_000_000;

/// Builds a configuration from its layers, lowest precedence first:
///
/// 1. the settings type's `T::default()` (every later layer merges over it
///    key by key, so naming one key of a section keeps the section's other
///    defaults);
/// 2. `<dir>/default.toml` (or the file given with `--config`);
/// 3. `<dir>/<environment>.toml`;
/// 4. `<dir>/local.toml` (developer machines; keep it out of git);
/// 5. environment variables `<PREFIX>__<KEY>__<KEY>`;
/// 6. `--set key=value` arguments.
///
/// See the [crate documentation](crate) for a guided tour.
///
/// `Loader` is cheap to clone. Its `Debug` output never shows environment
/// variable values or arguments.
#[derive(Clone)]
pub struct Loader {
    service: String,
    dir: PathBuf,
    environment: Option<String>,
    env: EnvSource,
    args: Vec<String>,
    allow_unknown_keys: bool,
    version: Option<String>,
    debounce: Duration,
    local: bool,
}

#[derive(Clone)]
enum EnvSource {
    Process,
    Fixed(Arc<BTreeMap<String, String>>),
}

impl EnvSource {
    fn snapshot(&self) -> BTreeMap<String, Option<String>> {
        match self {
            EnvSource::Process => std::env::vars_os()
                .filter_map(|(key, value)| {
                    let key = key.into_string().ok()?;
                    Some((key, value.into_string().ok()))
                })
                .collect(),
            EnvSource::Fixed(vars) => vars
                .iter()
                .map(|(key, value)| (key.clone(), Some(value.clone())))
                .collect(),
        }
    }
}

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("service", &self.service)
            .field("dir", &self.dir)
            .field("environment", &self.environment)
            .field(
                "env",
                &match self.env {
                    EnvSource::Process => "process environment",
                    EnvSource::Fixed(_) => "fixed variables",
                },
            )
            .field("args", &self.args.len())
            .field("allow_unknown_keys", &self.allow_unknown_keys)
            .field("version", &self.version)
            .field("debounce", &self.debounce)
            .field("local", &self.local)
            .finish()
    }
}

impl Loader {
    /// A loader for the service called `service_name` (e.g. `hello-service`),
    /// whose environment variables start with `HELLO_SERVICE__`. It reads the
    /// `config` directory, the process environment and no arguments.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service: service_name.into(),
            dir: PathBuf::from("config"),
            environment: None,
            env: EnvSource::Process,
            args: Vec::new(),
            allow_unknown_keys: false,
            version: None,
            debounce: Duration::from_millis(200),
            local: true,
        }
    }

    /// The directory holding `default.toml`, `<environment>.toml` and
    /// `local.toml` (default: `config`, relative to the working directory).
    /// Missing files are fine; a missing directory is too.
    #[must_use]
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// The deployment environment, which picks `<environment>.toml`. Without
    /// it the loader reads `APP_ENV`, and uses `dev` when that is unset.
    #[must_use]
    pub fn environment(mut self, name: impl Into<String>) -> Self {
        self.environment = Some(name.into());
        self
    }

    /// Reads environment variables (including `APP_ENV`) from `vars` instead
    /// of the process environment: for tests, which run in parallel and must
    /// not change the process environment.
    #[must_use]
    pub fn env_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        self.env = EnvSource::Fixed(Arc::new(vars));
        self
    }

    /// Command-line arguments, *without* the program name. The loader takes
    /// `--set key=value` (repeatable), `--config <file>` and `--print-config`
    /// (also as `--set=…`, `--config=…`) and leaves every other argument, and
    /// everything after `--`, in [`Loaded::remaining_args`].
    #[must_use]
    pub fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// [`args`](Self::args) from the process's own command line (arguments
    /// that are not UTF-8 are converted lossily).
    #[must_use]
    pub fn args_from_env(self) -> Self {
        self.args(
            std::env::args_os()
                .skip(1)
                .map(|arg| arg.to_string_lossy().into_owned()),
        )
    }

    /// Accept keys the settings type does not know (default: `false`, they
    /// are an error). Unknown keys are then dropped with a `tracing` warning.
    #[must_use]
    pub fn allow_unknown_keys(mut self, allow: bool) -> Self {
        self.allow_unknown_keys = allow;
        self
    }

    /// The running binary's version, for `service.version` (pass
    /// `env!("CARGO_PKG_VERSION")` from the binary crate).
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Whether to read `<dir>/local.toml` (default: `true`). Checks of the
    /// files a service ships turn it off: a developer's own overrides are not
    /// part of what is checked.
    #[must_use]
    pub fn local_file(mut self, read: bool) -> Self {
        self.local = read;
        self
    }

    /// How long hot reload waits for file changes to settle before reloading
    /// (default: 200 ms).
    #[must_use]
    pub fn reload_debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// The service name given to [`Loader::new`].
    pub fn service_name(&self) -> &str {
        &self.service
    }

    pub(crate) fn debounce(&self) -> Duration {
        self.debounce
    }

    /// Loads, checks and validates the configuration.
    ///
    /// `T` needs `Default` and `Serialize` besides `DeserializeOwned`: the
    /// serialised default tells the loader which keys exist (for "did you
    /// mean" suggestions and `_FILE` variables), and the serialised result is
    /// what [`Loaded::explain`] prints. A type without validation rules
    /// implements [`Validate`] with an empty body.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the file, variable, argument or keys at fault;
    /// for values, *all* problems found are reported at once.
    pub fn load<T>(&self) -> Result<Loaded<T>, ConfigError>
    where
        T: DeserializeOwned + Serialize + Default + Validate,
    {
        let args = args::parse(&self.args)?;
        self.check_dir()?;
        let vars = self.env.snapshot();
        let (environment, environment_origin) = self.resolve_environment(&vars)?;
        self.check_environment_file(&environment, environment_origin)?;

        let defaults = toml::Table::try_from(T::default())
            .map(Table::from)
            .unwrap_or_default();
        let known: BTreeSet<KeyPath> = defaults.paths().into_iter().collect();

        let (mut tree, provenance, files) = self.merge_layers(
            &args,
            &vars,
            (&environment, environment_origin),
            (&defaults, &known),
        )?;
        let value: T = self.deserialize(&mut tree, &provenance, &known)?;

        self.validate(&value, &provenance)?;

        Ok(Loaded::new(
            Arc::new(value),
            Arc::new(provenance),
            environment,
            args.print_config,
            args.rest,
            files,
            self.clone(),
        ))
    }

    /// Layers 1–6 (and the loader's own `[service]` values) merged into one
    /// tree, with the provenance of every key (none for defaults) and the
    /// files of layers 2–4.
    fn merge_layers(
        &self,
        args: &args::Args,
        vars: &BTreeMap<String, Option<String>>,
        (environment, environment_origin): (&str, &'static str),
        (defaults, known): (&Table, &BTreeSet<KeyPath>),
    ) -> Result<(Table, Provenance, Vec<PathBuf>), ConfigError> {
        // Layer 1: `T::default()`, so that a layer naming one key of a section
        // does not make serde rebuild the section from its own type's default.
        let mut tree = defaults::seed(defaults);
        let mut provenance = Provenance::default();

        // What the loader itself knows about the `[service]` section.
        let identity = [
            ("name", Some(self.service.clone()), "Loader::new"),
            (
                "environment",
                Some(environment.to_owned()),
                environment_origin,
            ),
            ("version", self.version.clone(), "Loader::version"),
        ];
        for (key, value, origin) in identity {
            let path = vec!["service".to_owned(), key.to_owned()];
            if let Some(text) = value
                && known.contains(&path)
            {
                tree.set(
                    &path,
                    Leaf::Text {
                        text,
                        sensitive: false,
                    },
                );
                provenance.record(&path, &Source::Loader(origin));
            }
        }

        // Layers 2–4: files.
        let files = self.files(&args.config, environment);
        for (i, path) in files.iter().enumerate() {
            let required = (i == 0 && args.config.is_some()).then_some("--config");
            if let Some(table) = files::read(path, required)? {
                tree::merge_file(
                    &mut tree,
                    &mut provenance,
                    table,
                    &Source::File(path.clone()),
                );
            }
        }

        // Layer 5: environment variables.
        for setting in env::settings(&env_prefix(&self.service), vars, known)? {
            tree.set(&setting.path, setting.leaf);
            provenance.record(&setting.path, &setting.source);
        }

        // Layer 6: --set.
        for (path, text) in &args.sets {
            tree.set(
                path,
                Leaf::Text {
                    text: text.clone(),
                    sensitive: false,
                },
            );
            provenance.record(path, &Source::Set);
        }

        defaults::prune_untouched(&mut tree, &provenance);
        Ok((tree, provenance, files))
    }

    /// Runs `T`'s [`Validate`] rules and names the layer behind each problem.
    fn validate<T: Validate>(&self, value: &T, provenance: &Provenance) -> Result<(), ConfigError> {
        let mut found = Problems::new();
        value.validate(&mut found);
        if found.is_empty() {
            return Ok(());
        }
        let problems = found
            .iter()
            .map(|(key, message)| {
                let path: KeyPath = key.split('.').map(str::to_owned).collect();
                Problem {
                    key: key.to_owned(),
                    source: provenance.blame(&path),
                    line: provenance.line(&path),
                    kind: ProblemKind::Invalid {
                        message: message.to_owned(),
                    },
                }
            })
            .collect();
        Err(ConfigError::Validation {
            service: self.service.clone(),
            problems,
        })
    }

    /// A config directory that exists but is a file (or anything else that
    /// is not a directory) is refused: reading `config/default.toml` through
    /// it would fail file by file, or worse, look like "no files".
    fn check_dir(&self) -> Result<(), ConfigError> {
        match std::fs::metadata(&self.dir) {
            Ok(meta) if !meta.is_dir() => Err(ConfigError::NotADirectory {
                path: self.dir.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// The files of layers 2–4, in precedence order.
    fn files(&self, config: &Option<PathBuf>, environment: &str) -> Vec<PathBuf> {
        let base = config
            .clone()
            .unwrap_or_else(|| self.dir.join("default.toml"));
        let mut files = vec![base, self.dir.join(format!("{environment}.toml"))];
        if self.local {
            files.push(self.dir.join("local.toml"));
        }
        files
    }

    /// A named environment without a file whose name is close to one that has
    /// a file (`prodution` next to `prod.toml`) is refused: that typo would
    /// otherwise run production on the defaults without a word. Other
    /// environments need no file of their own.
    fn check_environment_file(&self, name: &str, origin: &'static str) -> Result<(), ConfigError> {
        if origin == DEFAULT_ENVIRONMENT {
            return Ok(());
        }
        let path = self.dir.join(format!("{name}.toml"));
        if path.exists() {
            return Ok(());
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(());
        };
        let mut known: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let file = entry.file_name().into_string().ok()?;
                let stem = file.strip_suffix(".toml")?;
                (!matches!(stem, "default" | "local")).then(|| stem.to_owned())
            })
            .collect();
        if known.is_empty() {
            return Ok(());
        }
        known.sort();
        let Some(suggestion) = crate::suggest::nearest(name, known.iter().map(String::as_str))
        else {
            return Ok(());
        };
        Err(ConfigError::UnknownEnvironment {
            name: name.to_owned(),
            origin,
            path,
            known,
            suggestion,
        })
    }

    fn resolve_environment(
        &self,
        vars: &BTreeMap<String, Option<String>>,
    ) -> Result<(String, &'static str), ConfigError> {
        let (name, origin) = match (&self.environment, vars.get("APP_ENV")) {
            (Some(name), _) => (name.clone(), "Loader::environment"),
            (None, Some(Some(name))) if !name.is_empty() => (name.clone(), "APP_ENV"),
            (None, Some(None)) => {
                return Err(ConfigError::Env {
                    var: "APP_ENV".to_owned(),
                    message: "the value is not valid UTF-8".to_owned(),
                });
            }
            _ => ("dev".to_owned(), DEFAULT_ENVIRONMENT),
        };
        let usable = !name.is_empty()
            && !name.contains(['/', '\\'])
            && name != "."
            && name != ".."
            && Path::new(&name).file_name().is_some();
        if !usable {
            return Err(ConfigError::Environment {
                name,
                message: "it names the file <name>.toml in the config directory, so it must be \
                          a plain file name (no `/`, `\\`, `..`)"
                    .to_owned(),
            });
        }
        Ok((name, origin))
    }

    /// Deserialises `T`, collecting every problem: unknown keys all in one
    /// pass (the deserialiser holds them back from serde), and after each
    /// other error the offending key is removed and deserialisation runs
    /// again. Passes are bounded by [`MAX_PASSES`] and by [`PASS_BUDGET`]
    /// keys in all, so loading stays linear in the configuration's size;
    /// when they run out, the error says the search stopped.
    fn deserialize<T: DeserializeOwned>(
        &self,
        tree: &mut Table,
        provenance: &Provenance,
        known: &BTreeSet<KeyPath>,
    ) -> Result<T, ConfigError> {
        let mut found = Found::default();
        let mut removed_keys: Vec<KeyPath> = Vec::new();
        let passes = (PASS_BUDGET / tree.size().max(1)).clamp(MIN_PASSES, MAX_PASSES);
        let mut finished = false;
        for _ in 0..passes {
            let ctx = de::Ctx::new(provenance);
            let result = de::deserialize::<T>(tree, &ctx);
            for (path, expected) in ctx.unknown.take() {
                self.unknown_table_key(tree, &path, expected, provenance, known, &mut found);
            }
            let error = match result {
                Ok(value) => {
                    for path in ctx.ignored.take() {
                        if provenance.touches(&path) {
                            self.unknown_key(&path, (&[], &[]), provenance, known, &mut found);
                        }
                    }
                    if found.problems.is_empty() {
                        self.warn_ignored(&found);
                        return Ok(value);
                    }
                    finished = true;
                    break;
                }
                Err(error) => error,
            };
            let path = error.path.unwrap_or_default();
            match error.kind {
                DeErrorKind::UnknownField { field, expected } => {
                    let mut key = path.clone();
                    key.push(field);
                    if remove_default(tree, &key, provenance) {
                        continue;
                    }
                    let Some((gone, removed)) = tree.remove_deepest(&key) else {
                        let siblings = (&path[..], expected);
                        self.unknown_key(&key, siblings, provenance, known, &mut found);
                        finished = true;
                        break;
                    };
                    for leaf in leaves_of(gone, removed) {
                        let siblings = (&path[..], expected);
                        self.unknown_key(&leaf, siblings, provenance, known, &mut found);
                    }
                }
                DeErrorKind::MissingField(field) => {
                    let mut key = path;
                    key.push(field.to_owned());
                    if !removed_keys.iter().any(|gone| key.starts_with(gone)) {
                        found.problems.push(Problem {
                            key: dotted(&key),
                            source: Source::Default,
                            line: None,
                            kind: ProblemKind::Missing,
                        });
                    }
                    finished = true;
                    break;
                }
                DeErrorKind::Message(message) => {
                    if remove_default(tree, &path, provenance) {
                        continue;
                    }
                    let message = with_value(message, tree.leaf(&path));
                    found.problems.push(Problem {
                        key: dotted(&path),
                        source: provenance.blame(&path),
                        line: provenance.line(&path),
                        kind: ProblemKind::BadValue { message },
                    });
                    match tree.remove_deepest(&path) {
                        Some((gone, _)) => removed_keys.push(gone),
                        None => {
                            finished = true;
                            break;
                        }
                    }
                }
            }
        }
        self.warn_ignored(&found);
        let mut problems = found.problems;
        if problems.is_empty() {
            // Only reachable when the pass limit ran out on allowed unknown keys.
            problems.push(Problem {
                key: String::new(),
                source: Source::Default,
                line: None,
                kind: ProblemKind::BadValue {
                    message: "the configuration has too many unknown keys to read".to_owned(),
                },
            });
        } else if !finished {
            problems.push(Problem {
                key: String::new(),
                source: Source::Default,
                line: None,
                kind: ProblemKind::NotSearched { passes },
            });
        }
        Err(ConfigError::Invalid {
            service: self.service.clone(),
            problems,
        })
    }

    /// A key the deserialiser held back from a struct that has no such
    /// field: reported (every leaf below it, for a table) unless only the
    /// seeded defaults hold it, and removed from the tree.
    fn unknown_table_key(
        &self,
        tree: &mut Table,
        path: &[String],
        expected: &'static [&'static str],
        provenance: &Provenance,
        known: &BTreeSet<KeyPath>,
        found: &mut Found,
    ) {
        let Some((_, parent)) = path.split_last() else {
            return;
        };
        if !tree.contains(path) {
            return; // reported already
        }
        let touched = provenance.touches(path);
        let Some((gone, removed)) = tree.remove_deepest(path) else {
            return;
        };
        if !touched {
            return; // a default the type serialises but does not read back
        }
        for leaf in leaves_of(gone, removed) {
            self.unknown_key(&leaf, (parent, expected), provenance, known, found);
        }
    }

    fn unknown_key(
        &self,
        path: &[String],
        (parent, siblings): (&[String], &[&str]),
        provenance: &Provenance,
        known: &BTreeSet<KeyPath>,
        found: &mut Found,
    ) {
        let key = dotted(path);
        let source = provenance.blame(path);
        if self.allow_unknown_keys {
            found.ignored += 1;
            if found.ignored <= crate::error::SHOWN_PROBLEMS {
                tracing::warn!(
                    service = %self.service,
                    key = %key,
                    source = %source,
                    "ignoring unknown configuration key"
                );
            }
            return;
        }
        // Suggestions cost a comparison with every known key: only the
        // problems the error shows get one, so many unknown keys stay linear.
        let suggestion = if found.problems.len() < crate::error::SHOWN_PROBLEMS {
            let mut candidates: Vec<String> = known.iter().map(|known| dotted(known)).collect();
            candidates.extend(siblings.iter().map(|sibling| {
                let mut full = parent.to_vec();
                full.push((*sibling).to_owned());
                dotted(&full)
            }));
            suggest::nearest(&key, candidates.iter().map(String::as_str))
        } else {
            None
        };
        found.problems.push(Problem {
            key,
            source,
            line: provenance.line(path),
            kind: ProblemKind::UnknownKey { suggestion },
        });
    }

    /// One summary line for the allowed unknown keys past those logged one by one.
    fn warn_ignored(&self, found: &Found) {
        if found.ignored > crate::error::SHOWN_PROBLEMS {
            tracing::warn!(
                service = %self.service,
                more = found.ignored - crate::error::SHOWN_PROBLEMS,
                "ignoring more unknown configuration keys (not logged one by one)"
            );
        }
    }
}

/// What the deserialisation passes of one load found.
#[derive(Default)]
struct Found {
    problems: Vec<Problem>,
    /// Unknown keys dropped because [`Loader::allow_unknown_keys`] is on.
    ignored: usize,
}

/// The leaf paths of what [`Table::remove_deepest`] removed at `gone`.
fn leaves_of(gone: KeyPath, removed: Removed) -> Vec<KeyPath> {
    match removed {
        Removed::Leaf => vec![gone],
        Removed::Table(table) => {
            let below = table.leaf_paths();
            if below.is_empty() {
                vec![gone]
            } else {
                below
                    .into_iter()
                    .map(|tail| [gone.clone(), tail].concat())
                    .collect()
            }
        }
    }
}

/// Removes `path` from the tree when it holds only seeded defaults (no layer
/// set anything at or below it) and says whether it did. A default the type
/// serialises but will not read back (`skip_deserializing`, an asymmetric
/// `Serialize`) is then left to serde's own default instead of being blamed
/// on the user.
fn remove_default(tree: &mut Table, path: &[String], provenance: &Provenance) -> bool {
    if path.is_empty() || provenance.touches(path) || !tree.contains(path) {
        return false;
    }
    tree.remove_deepest(path).is_some()
}

/// Adds the rejected value to a parser's message when the message does not
/// already show it, unless the value is (or may be) a secret or a URL with
/// credentials.
fn with_value(message: String, leaf: Option<&Leaf>) -> String {
    if message.starts_with(crate::secret::SECRET_ERROR)
        || message.starts_with(crate::endpoint::ENDPOINT_ERROR)
    {
        return message;
    }
    let shown = match leaf {
        Some(Leaf::Text {
            text,
            sensitive: false,
        }) => format!("{text:?}"),
        Some(Leaf::Value(value)) if !value.is_array() => value.to_string(),
        _ => return message,
    };
    if message.contains(&shown) || shown.len() > 200 {
        message
    } else {
        format!("{message} (got {shown})")
    }
}
