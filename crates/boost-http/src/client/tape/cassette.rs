//! [`HttpCassette`]: one HTTP client's open tape, and how a request is
//! answered from it or recorded into it.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use boost_rpc::client::TapeMode;
use boost_tape::{
    Body, HttpEntry, HttpMatcher, HttpTape, Limits, MatchRules, Redaction, Timing, mask_url,
};

use super::HttpTapeSettings;
use super::headers::{PER_RUN_REQUEST, PER_RUN_RESPONSE, content_type, recorded};
use crate::client::send::Prepared;
use crate::client::{HttpClientError, HttpResponse, Inner};

/// A client's tape and its rules.
#[derive(Debug)]
pub(crate) struct HttpCassette {
    pub(super) client: String,
    pub(super) mode: TapeMode,
    pub(super) path: PathBuf,
    pub(super) redaction: Redaction,
    pub(super) limits: Limits,
    pub(super) replay_latency: bool,
    /// The client's `deadline_header`: per request, never recorded.
    pub(super) deadline_header: Option<String>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    matcher: HttpMatcher,
    /// Per entry of the matcher's tape: how long it took when recorded.
    elapsed: Vec<Duration>,
}

impl HttpCassette {
    /// Opens the tape of client `client`: reads it (`replay`,
    /// `replay_or_record`) or starts it empty (`record`, which writes the
    /// empty tape at once so a re-recording never keeps stale entries).
    pub(crate) fn open(
        client: &str,
        settings: &HttpTapeSettings,
        deadline_header: Option<&str>,
    ) -> Result<Self, HttpClientError> {
        let fail = |reason: String| HttpClientError::Tape {
            client: client.to_owned(),
            reason,
        };
        let path = settings
            .path
            .clone()
            .ok_or_else(|| fail(format!("{client}.tape.path is not set")))?;
        let limits = Limits::new(
            settings.max_file_size.as_u64(),
            settings.max_entries,
            settings.max_body_bytes(),
        );
        let (tape, timing) = match settings.mode {
            TapeMode::Record => {
                let empty = HttpTape::default();
                empty.save(&path).map_err(|e| fail(e.to_string()))?;
                Timing::default()
                    .save(&path)
                    .map_err(|e| fail(e.to_string()))?;
                (empty, Timing::default())
            }
            TapeMode::Replay => (
                HttpTape::load(&path, limits).map_err(|e| {
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
                HttpTape::load_or_empty(&path, limits).map_err(|e| fail(e.to_string()))?,
                Timing::load(&path, limits),
            ),
        };
        check(&tape).map_err(|why| fail(format!("tape {}: {why}", path.display())))?;
        let elapsed = tape
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                timing
                    .entries
                    .get(i)
                    .filter(|t| t.method == format!("{} {}", e.method, e.url))
                    .map_or(Duration::ZERO, |t| t.elapsed)
            })
            .collect();
        let redaction = Redaction::new(&settings.secret_headers, settings.redacted_fields.clone());
        let rules = MatchRules::new(settings.ignored_fields.clone(), redaction.clone());
        Ok(Self {
            client: client.to_owned(),
            mode: settings.mode,
            path,
            redaction,
            limits,
            replay_latency: settings.replay_latency,
            deadline_header: deadline_header.map(str::to_ascii_lowercase),
            state: Mutex::new(State {
                matcher: HttpMatcher::new(tape, rules),
                elapsed,
            }),
        })
    }

    /// Answers `req` from the tape, or sends it (the attempts that began at
    /// `start`) and records the answer, as the mode says. `last` is the base
    /// URL index for the metrics labels (the first, for a replayed answer).
    pub(crate) async fn call(
        &self,
        inner: &Inner,
        req: &Prepared,
        start: Instant,
        last: &mut Option<usize>,
        span: &tracing::Span,
    ) -> Result<HttpResponse, HttpClientError> {
        let method = req.method.as_str();
        let (url, body) = self
            .key(req.path.as_str(), &req.headers, &req.body)
            .map_err(|why| self.failure(why))?;
        if self.mode != TapeMode::Record {
            match self.lookup(method, &url, body.as_ref()) {
                Ok((entry, elapsed)) => {
                    *last = Some(0);
                    return super::replay::replay(self, inner, req, entry, elapsed).await;
                }
                Err(miss) if self.mode == TapeMode::Replay => {
                    return Err(self.failure(miss.to_string()));
                }
                Err(_) => {}
            }
        }
        let started = Instant::now();
        let result = crate::client::send::attempts(inner, req, start, last, span).await;
        if let Ok(response) = &result {
            let reply = Body::of(content_type(&response.headers), &response.body).map(|mut b| {
                b.mask(&self.redaction);
                b
            });
            let mut entry = HttpEntry::ok(method, &url, body, reply);
            entry.request.headers = recorded(
                &req.headers,
                &PER_RUN_REQUEST,
                self.deadline_header.as_deref(),
                &self.redaction,
            );
            entry.response.status = response.status.as_u16();
            entry.response.headers = recorded(
                &response.headers,
                &PER_RUN_RESPONSE,
                self.deadline_header.as_deref(),
                &self.redaction,
            );
            self.record(entry, started.elapsed());
        }
        result
    }

    /// A request's URL and body as the tape holds them (secrets masked),
    /// or why it cannot be taped.
    pub(crate) fn key(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        bytes: &[u8],
    ) -> Result<(String, Option<Body>), String> {
        if bytes.len() > self.limits.max_message_bytes {
            return Err(format!(
                "the request body is {} bytes, over {}.tape.max_body_size ({} bytes)",
                bytes.len(),
                self.client,
                self.limits.max_message_bytes
            ));
        }
        let mut body = Body::of(content_type(headers), bytes);
        if let Some(body) = &mut body {
            body.mask(&self.redaction);
        }
        Ok((mask_url(path, self.redaction.fields()), body))
    }

    /// The entry answering `method` on `url` with `body` (from [`key`](Self::key))
    /// and how long it took when recorded, or the miss.
    pub(crate) fn lookup(
        &self,
        method: &str,
        url: &str,
        body: Option<&Body>,
    ) -> Result<(HttpEntry, Duration), boost_tape::Miss> {
        let mut state = self.lock();
        let at = state.matcher.find_index(method, url, body)?;
        Ok((
            state.matcher.tape().entries[at].clone(),
            state.elapsed.get(at).copied().unwrap_or_default(),
        ))
    }

    /// Every `METHOD /path` the tape has, with its number of entries, sorted.
    pub(crate) fn requests(&self) -> Vec<(String, usize)> {
        let mut requests = std::collections::BTreeMap::<String, usize>::new();
        for entry in &self.lock().matcher.tape().entries {
            let path = entry.url.split('?').next().unwrap_or_default();
            *requests
                .entry(format!("{} {path}", entry.method))
                .or_default() += 1;
        }
        requests.into_iter().collect()
    }

    /// Whether replies wait as long as they took when recorded.
    pub(crate) fn replay_latency(&self) -> bool {
        self.replay_latency
    }

    /// The largest request body taped, in bytes.
    pub(crate) fn max_body_bytes(&self) -> usize {
        self.limits.max_message_bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn failure(&self, why: String) -> HttpClientError {
        HttpClientError::Tape {
            client: self.client.clone(),
            reason: format!("tape {}: {why}", self.path.display()),
        }
    }

    /// Adds a recorded exchange and writes the tape and its timing. A tape
    /// that cannot be written is logged as an error: the request itself
    /// succeeded and its caller gets the answer.
    fn record(&self, entry: HttpEntry, elapsed: Duration) {
        let mut state = self.lock();
        if state.matcher.tape().entries.len() >= self.limits.max_entries {
            tracing::error!(client = %self.client, tape = %self.path.display(),
                max_entries = self.limits.max_entries,
                "tape is full: this request is not recorded (raise tape.max_entries or split the scenario)");
            return;
        }
        state.matcher.push(entry, true);
        state.elapsed.push(elapsed);
        let tape = state.matcher.tape();
        let timing = tape.timing(&state.elapsed);
        if let Err(e) = tape.save(&self.path).and_then(|()| timing.save(&self.path)) {
            tracing::error!(client = %self.client, error = %e, "cannot write the tape");
        }
    }
}

/// Every status a tape names is an HTTP status, every base64 body decodes.
fn check(tape: &HttpTape) -> Result<(), String> {
    for (i, entry) in tape.entries.iter().enumerate() {
        let statuses = [
            Some(entry.response.status),
            entry.fault.as_ref().and_then(|f| f.status),
        ];
        for status in statuses.into_iter().flatten() {
            if !(100..=599).contains(&status) {
                return Err(format!(
                    "entries[{i}]: status {status} is not an HTTP status (100 to 599)"
                ));
            }
        }
        if let Some(body) = &entry.response.body {
            body.to_bytes()
                .map_err(|why| format!("entries[{i}].response.{why}"))?;
        }
    }
    Ok(())
}
