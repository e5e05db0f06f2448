//! [`Cassette`]: one client's open tape, shared by its clones.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use boost_tape::{Codec, Entry, Limits, MatchRules, Matcher, Redaction, Tape, Timing};
use serde_json::Value;

use super::exchange::code_of;
use super::settings::{TapeMode, TapeSettings};
use crate::RpcError;

/// A client's tape, its codec and its rules.
#[derive(Debug)]
pub(crate) struct Cassette {
    pub(super) client: String,
    pub(super) mode: TapeMode,
    pub(super) path: PathBuf,
    pub(super) codec: Codec,
    pub(super) redaction: Redaction,
    pub(super) limits: Limits,
    pub(super) replay_latency: bool,
    /// The client's `timeout`: the longest a replayed delay may last.
    pub(super) timeout: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    matcher: Matcher,
    /// Per entry of the matcher's tape: how long it took when recorded.
    elapsed: Vec<Duration>,
}

/// What the tape answers a call with.
pub(super) struct Found {
    /// Its index in the tape's entries.
    pub(super) index: usize,
    pub(super) entry: Entry,
    pub(super) elapsed: Duration,
}

impl Cassette {
    /// Opens the tape of client `client`: reads it (`replay`,
    /// `replay_or_record`) or starts it empty (`record`, which writes the
    /// empty tape at once so a re-recording never keeps stale entries).
    pub(crate) fn open(
        client: &str,
        settings: &TapeSettings,
        timeout: Duration,
        descriptors: &[&[u8]],
    ) -> Result<Self, RpcError> {
        let fail = |error: String| RpcError::tape(client, error);
        let path = settings
            .path
            .clone()
            .ok_or_else(|| fail(format!("{client}.tape.path is not set")))?;
        if descriptors.is_empty() {
            return Err(fail(
                "the client has no descriptors to read its messages with: build it with \
                 `Client::builder(name, settings).descriptors(proto::FULL_FILE_DESCRIPTOR_SET)` \
                 (`boost::include_proto!` defines it)"
                    .to_owned(),
            ));
        }
        let limits = Limits::new(
            settings.max_file_size.as_u64(),
            settings.max_entries,
            settings.max_message_bytes(),
        );
        let codec =
            Codec::new(descriptors, limits.max_message_bytes).map_err(|e| fail(e.to_string()))?;
        let (tape, timing) = match settings.mode {
            TapeMode::Record => {
                let empty = Tape::default();
                empty.save(&path).map_err(|e| fail(e.to_string()))?;
                Timing::default()
                    .save(&path)
                    .map_err(|e| fail(e.to_string()))?;
                (empty, Timing::default())
            }
            TapeMode::Replay => (
                Tape::load(&path, limits).map_err(|e| {
                    if path.exists() {
                        fail(e.to_string())
                    } else {
                        fail(format!(
                            "{e}; record it first with {client}.tape.mode = \"record\""
                        ))
                    }
                })?,
                Timing::load(&path, limits),
            ),
            _ => (
                Tape::load_or_empty(&path, limits).map_err(|e| fail(e.to_string()))?,
                Timing::load(&path, limits),
            ),
        };
        check(&tape).map_err(|why| fail(format!("{}: {why}", path.display())))?;
        let elapsed = tape
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                timing
                    .entries
                    .get(i)
                    .filter(|t| t.method == e.method)
                    .map_or(Duration::ZERO, |t| t.elapsed)
            })
            .collect();
        let redaction = Redaction::new(&settings.secret_headers, settings.redacted_fields.clone());
        let rules = MatchRules::new(settings.ignored_fields.clone(), redaction.clone());
        Ok(Self {
            client: client.to_owned(),
            mode: settings.mode,
            path,
            codec,
            redaction,
            limits,
            replay_latency: settings.replay_latency,
            timeout,
            state: Mutex::new(State {
                matcher: Matcher::new(tape, rules),
                elapsed,
            }),
        })
    }

    /// Every service the tape has calls of (`hello.v1.Profiles`), sorted.
    pub(crate) fn services(&self) -> Vec<String> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut services: Vec<String> = state
            .matcher
            .tape()
            .entries
            .iter()
            .filter_map(|e| e.method.split_once('/').map(|(s, _)| s.to_owned()))
            .collect();
        services.sort();
        services.dedup();
        services
    }

    /// Every method the tape has calls of, with how many entries each, sorted.
    pub(crate) fn methods(&self) -> Vec<(String, usize)> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut methods: std::collections::BTreeMap<String, usize> = Default::default();
        for entry in &state.matcher.tape().entries {
            *methods.entry(entry.method.clone()).or_default() += 1;
        }
        methods.into_iter().collect()
    }

    /// The tape's methods that the descriptors do not define.
    pub(crate) fn unknown_methods(&self) -> Vec<String> {
        let pool = self.codec.pool();
        self.methods()
            .into_iter()
            .map(|(method, _)| method)
            .filter(|method| {
                let Some((service, name)) = method.split_once('/') else {
                    return true;
                };
                pool.get_service_by_name(service)
                    .is_none_or(|s| !s.methods().any(|m| m.name() == name))
            })
            .collect()
    }

    /// The recorded answer to `method` with `messages`.
    pub(super) fn find(&self, method: &str, messages: &[Value]) -> Result<Found, boost_tape::Miss> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = state.matcher.find_index(method, messages)?;
        Ok(Found {
            index: at,
            entry: state.matcher.tape().entries[at].clone(),
            elapsed: state.elapsed.get(at).copied().unwrap_or_default(),
        })
    }

    /// Adds a recorded exchange and writes the tape and its timing. A tape
    /// that cannot be written is logged as an error: the call itself
    /// succeeded and its caller gets the answer.
    pub(super) fn record(&self, entry: Entry, elapsed: Duration) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.matcher.tape().entries.len() >= self.limits.max_entries {
            tracing::error!(client = %self.client, tape = %self.path.display(),
                max_entries = self.limits.max_entries,
                "tape is full: this call is not recorded (raise tape.max_entries or split the scenario)");
            return;
        }
        state.matcher.push(entry, true);
        state.elapsed.push(elapsed);
        let tape = state.matcher.tape();
        let timing = Timing::of(tape, &state.elapsed);
        if let Err(e) = tape.save(&self.path).and_then(|()| timing.save(&self.path)) {
            tracing::error!(client = %self.client, error = %e, "cannot write the tape");
        }
    }
}

/// Every code a tape names is a gRPC code.
fn check(tape: &Tape) -> Result<(), String> {
    for (i, entry) in tape.entries.iter().enumerate() {
        if code_of(&entry.response.code).is_none() {
            return Err(format!(
                "entries[{i}].response.code {:?} is not a gRPC status code (e.g. \"OK\", \"UNAVAILABLE\")",
                entry.response.code
            ));
        }
        if let Some(code) = entry.fault.as_ref().and_then(|f| f.code.as_ref())
            && code_of(code).is_none()
        {
            return Err(format!(
                "entries[{i}].fault.code {code:?} is not a gRPC status code (e.g. \"UNAVAILABLE\")"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// boost-tape has no kit dependency, so it holds its own copy of the
    /// log redaction's words: a word added to one must reach the other, or a
    /// secret masked in logs would be written to a tape in clear.
    #[test]
    fn tapes_mask_the_words_logs_redact() {
        assert_eq!(
            boost_tape::SECRET_WORDS.as_slice(),
            boost_tracing::DEFAULT_REDACT
        );
    }
}
