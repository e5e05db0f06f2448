//! Bounds: a full file refuses records (and writes nothing), `recent` returns at most what
//! was asked and what is kept, long fields are cut.

use std::sync::{Arc, Mutex};

use boost_audit::{
    AuditError, AuditLog, AuditRecord, AuditSettings, AuditSink, ChainedRecord, MAX_FIELD_BYTES,
    MAX_LINE_BYTES, verify,
};
use boost_config::ByteSize;

use crate::{dir, open, record};

#[test]
fn a_full_file_refuses_the_record_and_writes_nothing() {
    let dir = dir();
    let mut settings = AuditSettings::new(&dir.file);
    settings.max_file_size = ByteSize::kib(1);
    let log = AuditLog::open(&settings, "hello-service").unwrap();
    let mut written = 0;
    let error = loop {
        match log.record(record(written)) {
            Ok(_) => written += 1,
            Err(error) => break error,
        }
        assert!(written < 100, "a 1 KiB file never filled up");
    };
    assert!(written >= 1, "at least one record fits in 1 KiB");
    assert!(matches!(error, AuditError::Full { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("NOT written") && message.contains("Archive the file"),
        "{message}"
    );
    let size = std::fs::metadata(&dir.file).unwrap().len();
    assert!(size <= 1024);
    // Refused again, nothing written, the chain did not move.
    assert!(log.record(record(0)).is_err());
    assert_eq!(std::fs::metadata(&dir.file).unwrap().len(), size);
    assert_eq!(verify(&dir.file).unwrap().records, written as u64);
    assert_eq!(log.recent(1000).len(), written);

    // Archiving the file makes room: a new chain starts.
    std::fs::rename(&dir.file, dir.file.with_extension("old")).unwrap();
    assert_eq!(log.record(record(0)).unwrap().seq, 1);
}

#[test]
fn recent_returns_at_most_limit_and_at_most_the_setting() {
    let dir = dir();
    let mut settings = AuditSettings::new(&dir.file);
    settings.recent = 5;
    let log = AuditLog::open(&settings, "hello-service").unwrap();
    assert!(log.recent(10).is_empty());
    for n in 0..12 {
        log.record(record(n)).unwrap();
    }
    let seqs = |limit| log.recent(limit).iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(3), [10, 11, 12], "the newest, newest last");
    assert_eq!(seqs(5), [8, 9, 10, 11, 12]);
    assert_eq!(
        seqs(1000),
        [8, 9, 10, 11, 12],
        "never more than audit.recent"
    );
    assert!(seqs(0).is_empty());
}

#[test]
fn long_fields_are_cut_and_the_record_still_verifies() {
    let dir = dir();
    let log = open(&dir.file);
    let written = log
        .record(
            AuditRecord::new("switch.set", "partner_hertz", "changed")
                .reason("x".repeat(1_000_000))
                .new_value("é".repeat(5000)),
        )
        .unwrap();
    let reason = written.record.reason.unwrap();
    assert!(reason.len() <= MAX_FIELD_BYTES);
    assert!(
        reason.ends_with("…[truncated from 1000000 bytes]"),
        "{reason}"
    );
    assert!(written.record.new.unwrap().len() <= MAX_FIELD_BYTES);
    assert_eq!(verify(&dir.file).unwrap().records, 1);
}

#[test]
fn a_record_too_large_even_when_cut_is_refused() {
    // Control characters take six bytes each in JSON: ten cut fields of them pass 64 KiB.
    let dir = dir();
    let log = open(&dir.file);
    let wide = "\u{1}".repeat(MAX_FIELD_BYTES);
    let error = log
        .record(
            AuditRecord::new(wide.clone(), wide.clone(), wide.clone())
                .actor(wide.clone())
                .token(wide.clone())
                .peer(wide.clone())
                .change(wide.clone(), wide.clone())
                .reason(wide),
        )
        .unwrap_err();
    match error {
        AuditError::TooLarge { bytes, limit, .. } => {
            assert!(bytes > limit);
            assert_eq!(limit, MAX_LINE_BYTES);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::metadata(&dir.file).unwrap().len(), 0);
    assert_eq!(
        log.record(record(1)).unwrap().seq,
        1,
        "the chain did not move"
    );
}

#[derive(Default)]
struct Collect(Mutex<Vec<u64>>);

impl AuditSink for Collect {
    fn publish(&self, record: &ChainedRecord) {
        self.0.lock().unwrap().push(record.seq);
    }
}

#[test]
fn sinks_get_every_written_record_and_not_the_refused_ones() {
    let dir = dir();
    let mut settings = AuditSettings::new(&dir.file);
    settings.max_file_size = ByteSize::kib(1);
    let log = AuditLog::open(&settings, "hello-service").unwrap();
    let sink = Arc::new(Collect::default());
    log.add_sink(sink.clone());
    let mut written = 0;
    while log.record(record(written)).is_ok() {
        written += 1;
        assert!(written < 100);
    }
    let seqs = sink.0.lock().unwrap().clone();
    assert_eq!(seqs, (1..=written as u64).collect::<Vec<_>>());
}

/// `/dev/full` takes no byte (ENOSPC) and cannot be truncated: the write fails and so does
/// removing its partial line, so the log stops writing to that file.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_write_is_an_error_and_does_not_advance_the_chain() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let Ok(log) = AuditLog::open(&AuditSettings::new(full), "hello-service") else {
        return; // not writable here (a sandbox): nothing to test
    };
    let error = log.record(record(0)).unwrap_err();
    assert!(
        matches!(error, AuditError::Write { .. } | AuditError::Broken { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("/dev/full"), "{error}");
    assert!(log.record(record(1)).is_err(), "still refused");
    assert!(log.recent(10).is_empty(), "nothing joined the chain");
}
