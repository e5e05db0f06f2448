//! [`AuditLog`]: appends hash-chained records to the audit file, the log stream, memory
//! and the sinks; [`AuditSink`]: somewhere else every record goes.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::SystemTime;

use boost_config::Problems;

use crate::AUDIT_TARGET;
use crate::error::AuditError;
use crate::record::{
    AuditRecord, ChainedRecord, GENESIS_PREV, MAX_LINE_BYTES, bound, seal, sha256_hex,
};
use crate::settings::{AuditSettings, DEFAULT_RECENT};
use crate::tail::read_tail;
use crate::verify::{Verified, VerifyError, verify_prefix};

/// Somewhere every written record also goes (a Redis stream, say), after the file has it.
///
/// [`publish`](Self::publish) is called with the audit log's lock held, so that sinks see
/// records in `seq` order: it must not block (hand the record to a channel or a task) and
/// must not call [`AuditLog::record`] or [`AuditLog::add_sink`]. Logs of one file share
/// their sinks (see [`AuditLog::open`]). Its failures are its own business: log them, count
/// them; the record is in the file and the log stream already.
pub trait AuditSink: Send + Sync + 'static {
    /// Takes one record, newly written.
    fn publish(&self, record: &ChainedRecord);
}

/// The audit trail of one service: every record goes to the log stream, to the
/// hash-chained audit file (fsync'd before [`record`](Self::record) returns), to the
/// newest-records ring [`recent`](Self::recent) reads, and to every [`AuditSink`].
///
/// Cheap to clone (an `Arc`); clones share the file and the chain. See the
/// [crate guide](crate).
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

/// One handle: what [`AuditLog::open`] was given, and the file's shared state.
struct Inner {
    service: String,
    /// The most records [`AuditLog::recent`] returns (`audit.recent`).
    capacity: usize,
    shared: Arc<Shared>,
}

/// What every handle on one file shares: logs opened on the same file in one process write
/// one chain (see [`open_files`]).
struct Shared {
    /// The audit file; `None` when records go to the log stream and memory only.
    path: Option<PathBuf>,
    max_file_size: u64,
    // A std Mutex, held across hashing, writing and fsync: admin actions are rare (a few a
    // minute at the most), so serialising them costs nothing, and holding one lock across the
    // whole append is what keeps the chain valid (each record's `prev` is the line written
    // just before it). No await happens under it, so it needs no async lock; a caller on an
    // async runtime is blocked for one fsync (milliseconds), which admin handlers can afford.
    state: Mutex<State>,
    sinks: RwLock<Vec<Arc<dyn AuditSink>>>,
}

struct State {
    file: Option<OpenFile>,
    /// Set when a failed write could not be undone: the file may end in a partial line.
    broken: Option<String>,
    /// The last record's `seq`.
    seq: u64,
    /// SHA-256 of the last line: the next record's `prev`.
    prev: String,
    ring: VecDeque<ChainedRecord>,
    /// How many records the ring keeps: the largest `audit.recent` of the handles.
    ring_capacity: usize,
}

/// The open audit file.
struct OpenFile {
    file: File,
    size: u64,
    /// Device and inode, to notice that the file was moved away (archived).
    identity: Option<(u64, u64)>,
}

impl AuditLog {
    /// Opens (or creates) the audit file of `settings` for `service`, continuing its chain.
    ///
    /// Missing parent directories are created; the file is opened for appending. When it
    /// already holds records, the end of it is read (at least the last 1 MiB, at most 32 MiB)
    /// to continue the chain after its last record and to load up to `settings.recent`
    /// records for [`recent`](Self::recent). The last line must be a valid record: if it is
    /// not, the error names the file and the line and asks for `--verify-audit`.
    ///
    /// With `settings.enabled = false`, the log keeps records in the log stream and in
    /// memory only ([`path`](Self::path) is `None`).
    ///
    /// The file is locked (`flock`) while the log is open: one process writes it. Opening a
    /// file this process already has open (another component, or a restart in a test while
    /// a clone of the old log lives on) gives a log that shares the open one's chain, ring
    /// and sinks, with its own `service` name and `recent` limit.
    ///
    /// # Errors
    /// [`AuditError::Settings`] when a setting breaks a rule (keys under `audit.`),
    /// [`AuditError::Open`] when the file cannot be created or read,
    /// [`AuditError::InUse`] when another process writes it,
    /// [`AuditError::Corrupt`] when its last line is not a valid record.
    pub fn open(settings: &AuditSettings, service: &str) -> Result<AuditLog, AuditError> {
        Problems::of("audit", settings).into_result("the audit log")?;
        if !settings.enabled {
            tracing::info!(
                "audit file off (audit.enabled = false): admin actions are audited in the log \
                 stream only"
            );
            return Ok(Self::memory(service, settings.recent));
        }
        let path = settings.file.clone();
        let service = bound(service.to_owned());
        let file = create_and_open(&path)?;
        // Another log of this process on this file: share its chain (a second writer
        // would fork it), keep this one's service name.
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        let mut open = open_files().lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|(_, shared)| shared.strong_count() > 0);
        if let Some(shared) = open
            .iter()
            .find(|(open_key, _)| *open_key == key)
            .and_then(|(_, shared)| shared.upgrade())
        {
            drop(open);
            drop(file);
            let mut state = shared.lock();
            state.ring_capacity = state.ring_capacity.max(settings.recent);
            drop(state);
            return Ok(AuditLog {
                inner: Arc::new(Inner {
                    service,
                    capacity: settings.recent,
                    shared,
                }),
            });
        }
        let (file, tail, repaired) = lock_and_read(file, &path, settings.recent)?;
        let max_file_size = settings.max_file_size.as_u64();
        if file.size >= max_file_size {
            tracing::warn!(
                path = %path.display(),
                size = file.size,
                max_file_size,
                "audit file {} is full (audit.max_file_size): admin actions will be refused an \
                 audit record until it is archived (moved away)",
                path.display()
            );
        }
        let mut ring = VecDeque::with_capacity(settings.recent.min(DEFAULT_RECENT));
        ring.extend(tail.recent);
        let shared = Arc::new(Shared {
            path: Some(path),
            max_file_size,
            state: Mutex::new(State {
                file: Some(file),
                broken: None,
                seq: tail.seq,
                prev: tail.prev,
                ring,
                ring_capacity: settings.recent,
            }),
            sinks: RwLock::new(Vec::new()),
        });
        open.push((key, Arc::downgrade(&shared)));
        drop(open);
        let log = AuditLog {
            inner: Arc::new(Inner {
                service,
                capacity: settings.recent,
                shared,
            }),
        };
        if let Some(repaired) = repaired {
            log.record_repair(&repaired);
        }
        Ok(log)
    }

    /// Says in the log stream and in the chain itself that a cut-off last line was set
    /// aside at open ([`crate::repair`]).
    fn record_repair(&self, repaired: &crate::repair::Repaired) {
        let path = self.path().map(Path::display);
        tracing::warn!(target: AUDIT_TARGET,
            bytes = repaired.bytes,
            evidence = %repaired.evidence.display(),
            "the audit file ended in a partial record (a write cut off by a crash): its {} \
             bytes were moved to {} and the chain continues after the last whole record",
            repaired.bytes,
            repaired.evidence.display());
        let record = AuditRecord::new(
            "audit.repaired",
            path.map_or_else(String::new, |p| p.to_string()),
            "partial_line_set_aside",
        )
        .reason(format!(
            "{} bytes after the last whole record (sha256 {}) were moved to {}",
            repaired.bytes,
            repaired.sha256,
            repaired.evidence.display()
        ));
        if let Err(e) = self.record(record) {
            tracing::error!(target: AUDIT_TARGET, error = %e,
                "could not write the audit record of the partial line set aside");
        }
    }

    /// An audit log without a file, for tests and for code without configuration: records
    /// are chained, kept in memory (the newest 1000) and sent to the log stream and sinks.
    ///
    /// ```
    /// use boost_audit::{AuditLog, AuditRecord};
    ///
    /// let log = AuditLog::in_memory("hello-service");
    /// let written = log.record(AuditRecord::new("loglevel.set", "log filter", "changed"))?;
    /// assert_eq!(written.seq, 1);
    /// assert_eq!(log.recent(10), [written]);
    /// # Ok::<(), boost_audit::AuditError>(())
    /// ```
    pub fn in_memory(service: &str) -> AuditLog {
        Self::memory(service, DEFAULT_RECENT)
    }

    fn memory(service: &str, capacity: usize) -> AuditLog {
        AuditLog {
            inner: Arc::new(Inner {
                service: bound(service.to_owned()),
                capacity,
                shared: Arc::new(Shared {
                    path: None,
                    max_file_size: u64::MAX,
                    state: Mutex::new(State {
                        file: None,
                        broken: None,
                        seq: 0,
                        prev: GENESIS_PREV.to_owned(),
                        ring: VecDeque::new(),
                        ring_capacity: capacity,
                    }),
                    sinks: RwLock::new(Vec::new()),
                }),
            }),
        }
    }

    /// Writes one record and returns it as written, chained after the previous one.
    ///
    /// In order, holding one lock so that concurrent calls (from any number of threads)
    /// keep the chain valid:
    /// 1. text fields longer than [`MAX_FIELD_BYTES`](crate::MAX_FIELD_BYTES) are cut
    ///    (marked `…[truncated from N bytes]`), and the record gets its `seq`, `at`,
    ///    `service`, `prev` and `hash`;
    /// 2. its line is appended to the file and fsync'd (`sync_data`) before this returns;
    /// 3. one event goes to the log stream: target [`AUDIT_TARGET`], level WARN, every field
    ///    under its own name except `token`, which is `token_fingerprint` there (and
    ///    `audit_file_error` when the file did not take it);
    /// 4. it joins the records [`recent`](Self::recent) returns, and every sink gets it.
    ///
    /// This blocks for one fsync (milliseconds). If the audit file was moved away (archived)
    /// since the last record, a new file is created at the configured path and a new chain
    /// starts in it (`seq` 1).
    ///
    /// # Errors
    /// When the file does not take the record — [`AuditError::Full`],
    /// [`AuditError::Write`], [`AuditError::Broken`], [`AuditError::TooLarge`],
    /// [`AuditError::Open`] (re-creating a moved file) — the record is not in the chain
    /// (the next one takes its `seq`), is not in [`recent`](Self::recent) and not sent to
    /// the sinks, but the log stream has it. Refuse the action it records.
    pub fn record(&self, record: AuditRecord) -> Result<ChainedRecord, AuditError> {
        let inner = &*self.inner;
        let shared = &*inner.shared;
        let record = record.bounded();
        let mut state = shared.lock();
        if let Err(error) = shared.follow_moved_file(&mut state) {
            emit_unwritten(&inner.service, &record, &error);
            return Err(error);
        }
        let draft = ChainedRecord {
            seq: state.seq + 1,
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            service: inner.service.clone(),
            record,
            prev: state.prev.clone(),
            hash: String::new(),
        };
        let (sealed, line) = match seal(draft.clone()) {
            Ok(sealed) => sealed,
            Err(reason) => {
                let error = AuditError::Encode(reason);
                emit_unwritten(&inner.service, &draft.record, &error);
                return Err(error);
            }
        };
        if let Err(error) = shared.append(&mut state, &sealed, &line) {
            emit(&sealed, Some(&error));
            return Err(error);
        }
        state.seq = sealed.seq;
        state.prev = sha256_hex(&line);
        emit(&sealed, None);
        if state.ring.len() >= state.ring_capacity {
            state.ring.pop_front();
        }
        state.ring.push_back(sealed.clone());
        let sinks = shared.sinks.read().unwrap_or_else(PoisonError::into_inner);
        for sink in sinks.iter() {
            sink.publish(&sealed);
        }
        Ok(sealed)
    }

    /// [`record`](Self::record) from async code: on tokio's blocking pool, so the fsync
    /// (milliseconds) holds none of the runtime's workers and the service's other calls go
    /// on meanwhile. Admin handlers use it: a refusal (no or a wrong token) is audited too,
    /// and anyone who reaches the admin port can cause one. Outside a tokio runtime it is
    /// [`record`](Self::record).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), boost_audit::AuditError> {
    /// use boost_audit::{AuditLog, AuditRecord};
    ///
    /// let audit = AuditLog::in_memory("hello-service");
    /// let sealed = audit
    ///     .record_async(AuditRecord::new("switch.set", "partner_hertz", "changed").actor("jo"))
    ///     .await?;
    /// assert_eq!(sealed.seq, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`record`](Self::record), and [`AuditError::Interrupted`] when the blocking task
    /// did not finish (the runtime is shutting down).
    pub async fn record_async(&self, record: AuditRecord) -> Result<ChainedRecord, AuditError> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.record(record);
        };
        let log = self.clone();
        runtime
            .spawn_blocking(move || log.record(record))
            .await
            .map_err(|e| AuditError::Interrupted {
                reason: e.to_string(),
            })?
    }

    /// The newest records, oldest first (newest last): at most `limit`, and at most
    /// `audit.recent` (1000 for [`in_memory`](Self::in_memory)). After a restart, they
    /// include the file's newest records.
    pub fn recent(&self, limit: usize) -> Vec<ChainedRecord> {
        let state = self.inner.shared.lock();
        let take = limit.min(self.inner.capacity).min(state.ring.len());
        state
            .ring
            .iter()
            .skip(state.ring.len() - take)
            .cloned()
            .collect()
    }

    /// Adds a sink: every record written from now on is also published to it.
    pub fn add_sink(&self, sink: Arc<dyn AuditSink>) {
        self.inner
            .shared
            .sinks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sink);
    }

    /// How full the audit file is: `(bytes written, audit.max_file_size)`;
    /// `None` without a file. Callers that write records anyone can cause
    /// (refused requests) leave the rest of the file to real admin actions.
    ///
    /// ```
    /// let log = boost_audit::AuditLog::in_memory("demo");
    /// assert_eq!(log.usage(), None);
    /// ```
    pub fn usage(&self) -> Option<(u64, u64)> {
        let state = self
            .inner
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state
            .file
            .as_ref()
            .map(|open| (open.size, self.inner.shared.max_file_size))
    }

    /// The audit file; `None` when records go to the log stream and memory only.
    pub fn path(&self) -> Option<&Path> {
        self.inner.shared.path.as_deref()
    }

    /// The service name every record carries.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// [`verify`](crate::verify) of this log's file, as far as it had been written when
    /// called (records may be appended meanwhile); `None` without a file.
    pub fn verify_file(&self) -> Option<Result<Verified, VerifyError>> {
        let shared = &*self.inner.shared;
        let path = shared.path.as_deref()?;
        let size = shared.lock().file.as_ref().map_or(0, |file| file.size);
        Some(verify_prefix(path, size))
    }
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("service", &self.inner.service)
            .field("path", &self.inner.shared.path)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; if something did, the state is still
        // consistent (the chain only advances after a write succeeded).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the file was moved away (archived) or deleted, opens a new one at the path and
    /// continues with its chain (a new one when it is new).
    fn follow_moved_file(&self, state: &mut State) -> Result<(), AuditError> {
        let (Some(path), Some(open)) = (&self.path, &state.file) else {
            return Ok(());
        };
        let moved = match std::fs::metadata(path) {
            Ok(metadata) => open.identity.is_some() && identity(&metadata) != open.identity,
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        };
        if !moved {
            return Ok(());
        }
        let file = create_and_open(path)?;
        let (file, tail, repaired) = lock_and_read(file, path, 0)?;
        if let Some(repaired) = repaired {
            // Under the lock: the log stream says it (a record would wait on this lock).
            tracing::warn!(target: AUDIT_TARGET, bytes = repaired.bytes, sha256 = %repaired.sha256,
                evidence = %repaired.evidence.display(),
                "the audit file found at the path ended in a partial record: set aside");
        }
        tracing::warn!(
            path = %path.display(),
            "audit file {} was moved away or deleted: continuing in a new file there, with {}",
            path.display(),
            if tail.seq == 0 {
                "a new chain".to_owned()
            } else {
                format!("the chain it holds (after record {})", tail.seq)
            }
        );
        state.file = Some(file);
        state.broken = None;
        state.seq = tail.seq;
        state.prev = tail.prev;
        Ok(())
    }

    /// Appends `line` and a newline to the file and syncs it; on failure, removes what was
    /// written.
    fn append(
        &self,
        state: &mut State,
        record: &ChainedRecord,
        line: &[u8],
    ) -> Result<(), AuditError> {
        if line.len() > MAX_LINE_BYTES {
            return Err(AuditError::TooLarge {
                action: record.record.action.clone(),
                target: record.record.target.clone(),
                bytes: line.len(),
                limit: MAX_LINE_BYTES,
            });
        }
        let (Some(path), Some(open)) = (&self.path, &mut state.file) else {
            return Ok(());
        };
        if let Some(reason) = &state.broken {
            return Err(AuditError::Broken {
                path: path.clone(),
                reason: reason.clone(),
            });
        }
        let needed = u64::try_from(line.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        if open.size.saturating_add(needed) > self.max_file_size {
            return Err(AuditError::Full {
                path: path.clone(),
                size: open.size,
                record: needed,
                limit: self.max_file_size,
            });
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        let written = open
            .file
            .write_all(&bytes)
            .and_then(|()| open.file.sync_data());
        if let Err(source) = written {
            // Take back what may have reached the file, so that it still ends with a whole
            // record; if even that fails, stop writing to it.
            if let Err(undo) = open
                .file
                .set_len(open.size)
                .and_then(|()| open.file.sync_data())
            {
                let reason = format!(
                    "writing a record failed ({source}) and removing its partial line failed \
                     ({undo})"
                );
                state.broken = Some(reason.clone());
                return Err(AuditError::Broken {
                    path: path.clone(),
                    reason,
                });
            }
            return Err(AuditError::Write {
                path: path.clone(),
                source,
            });
        }
        open.size += needed;
        Ok(())
    }
}

/// The audit files open in this process, by canonical path: a second
/// [`AuditLog::open`] of one shares the first's chain.
fn open_files() -> &'static Mutex<Vec<(PathBuf, Weak<Shared>)>> {
    static OPEN_FILES: Mutex<Vec<(PathBuf, Weak<Shared>)>> = Mutex::new(Vec::new());
    &OPEN_FILES
}

/// How many more times a locked file is tried before it counts as in use.
const LOCK_TRIES: u32 = 5;
/// The pause between tries.
const LOCK_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Creates the missing directories and opens (or creates) `path` for appending.
fn create_and_open(path: &Path) -> Result<File, AuditError> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| AuditError::Open {
            action: "create the directory of",
            path: path.to_owned(),
            source,
        })?;
    }
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|source| AuditError::Open {
            action: "open",
            path: path.to_owned(),
            source,
        })
}

/// Locks `file` (one writer per file) and reads where its chain stands.
fn lock_and_read(
    mut file: File,
    path: &Path,
    recent: usize,
) -> Result<(OpenFile, crate::tail::Tail, Option<crate::repair::Repaired>), AuditError> {
    // One writer per file: a second one (another replica sharing the path, say) would
    // interleave two chains and break both. The lock goes with the file handle.
    // A few tries: the last log of this process on the file may be closing it right now.
    let mut tries = 0;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if tries < LOCK_TRIES => {
                tries += 1;
                std::thread::sleep(LOCK_RETRY_PAUSE);
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AuditError::InUse {
                    path: path.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(AuditError::Open {
                    action: "lock",
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
    let metadata = file.metadata().map_err(|source| AuditError::Open {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    let (size, repaired) = crate::repair::cut_partial_tail(&mut file, path, metadata.len())?;
    let tail = read_tail(&mut file, path, size, recent)?;
    Ok((
        OpenFile {
            file,
            size,
            identity: identity(&metadata),
        },
        tail,
        repaired,
    ))
}

#[cfg(unix)]
fn identity(metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn identity(_metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// The log-stream event of a record, written to the file or not.
fn emit(record: &ChainedRecord, file_error: Option<&AuditError>) {
    let r = &record.record;
    let file_error = file_error.map(tracing::field::display);
    tracing::warn!(
        target: AUDIT_TARGET,
        seq = record.seq,
        at = %record.at,
        service = %record.service,
        actor = %r.actor,
        token_fingerprint = r.token.as_deref(),
        peer = r.peer.as_deref(),
        action = %r.action,
        target = %r.target,
        old = r.old.as_deref(),
        new = r.new.as_deref(),
        reason = r.reason.as_deref(),
        outcome = %r.outcome,
        prev = %record.prev,
        hash = %record.hash,
        audit_file_error = file_error,
        "audit: {} {}{} by {}: {}{}",
        r.action,
        r.target,
        change(r),
        r.actor,
        r.outcome,
        if file_error.is_some() { " (NOT in the audit file)" } else { "" },
    );
}

/// The log-stream event of a record that never got its place in the chain.
fn emit_unwritten(service: &str, record: &AuditRecord, error: &AuditError) {
    let draft = ChainedRecord {
        seq: 0,
        at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        service: service.to_owned(),
        record: record.clone(),
        prev: String::new(),
        hash: String::new(),
    };
    emit(&draft, Some(error));
}

/// `old -> new`, as far as they are known.
fn change(record: &AuditRecord) -> String {
    match (&record.old, &record.new) {
        (Some(old), Some(new)) => format!(" ({old:?} -> {new:?})"),
        (None, Some(new)) => format!(" (-> {new:?})"),
        (Some(old), None) => format!(" ({old:?} ->)"),
        (None, None) => String::new(),
    }
}
