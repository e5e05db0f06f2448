//! Opening an existing file continues its chain; a last line cut off by a crash is set
//! aside (and recorded); a broken whole last line stops the start with an error naming the
//! file and the line; a moved (archived) file starts a new chain.

use boost_audit::{AuditError, AuditLog, AuditSettings, verify};

use crate::{dir, lines, open, record, sha256_hex, write_lines};

#[test]
fn reopening_continues_the_chain_and_still_verifies() {
    let dir = dir();
    let first = {
        let log = open(&dir.file);
        (0..5)
            .map(|n| log.record(record(n)).unwrap())
            .collect::<Vec<_>>()
    };
    let log = open(&dir.file);
    assert_eq!(log.recent(100), first, "the newest records are read back");
    let next = log.record(record(5)).unwrap();
    assert_eq!(next.seq, 6);
    assert_eq!(next.prev, sha256_hex(lines(&dir.file)[4].as_bytes()));
    assert_eq!(verify(&dir.file).unwrap().records, 6);
    assert_eq!(log.recent(2), [first[4].clone(), next]);
}

#[test]
fn reopening_reads_back_at_most_recent_records() {
    let dir = dir();
    {
        let log = open(&dir.file);
        for n in 0..30 {
            log.record(record(n)).unwrap();
        }
    }
    let mut settings = AuditSettings::new(&dir.file);
    settings.recent = 7;
    let log = AuditLog::open(&settings, "hello-service").unwrap();
    let recent = log.recent(100);
    assert_eq!(
        recent.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (24..=30).collect::<Vec<_>>()
    );
}

#[test]
fn open_creates_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("var/lib/hello/audit.jsonl");
    let log = AuditLog::open(&AuditSettings::new(&path), "hello-service").unwrap();
    assert_eq!(log.path(), Some(path.as_path()));
    log.record(record(0)).unwrap();
    assert_eq!(verify(&path).unwrap().records, 1);
}

fn corrupt(result: Result<AuditLog, AuditError>) -> (String, String, String) {
    match result {
        Err(error @ AuditError::Corrupt { .. }) => {
            let message = error.to_string();
            let AuditError::Corrupt { line, reason, .. } = error else {
                unreachable!()
            };
            (line, reason, message)
        }
        other => panic!("expected AuditError::Corrupt, got {other:?}"),
    }
}

#[test]
fn a_corrupt_last_line_at_open_names_the_file_and_the_line() {
    let dir = dir();
    {
        let log = open(&dir.file);
        for n in 0..3 {
            log.record(record(n)).unwrap();
        }
    }
    let mut lines = lines(&dir.file);
    lines[2] = lines[2].replace("test 2", "test two");
    write_lines(&dir.file, &lines);
    let (line, reason, message) = corrupt(AuditLog::open(
        &AuditSettings::new(&dir.file),
        "hello-service",
    ));
    assert_eq!(line, "line 3");
    assert!(reason.starts_with("hash does not match"), "{reason}");
    assert!(
        message.contains(&dir.file.display().to_string()),
        "{message}"
    );
    assert!(message.contains("--verify-audit"), "{message}");

    lines[2] = "{\"seq\": 3, garbage".to_owned();
    write_lines(&dir.file, &lines);
    let (line, reason, _) = corrupt(AuditLog::open(&AuditSettings::new(&dir.file), "x"));
    assert_eq!(line, "line 3");
    assert!(
        reason.starts_with("is not a valid audit record"),
        "{reason}"
    );
}

#[test]
fn a_last_line_cut_off_by_a_crash_is_set_aside_and_the_chain_continues() {
    let dir = dir();
    {
        let log = open(&dir.file);
        for n in 0..3 {
            log.record(record(n)).unwrap();
        }
    }
    let text = std::fs::read_to_string(&dir.file).unwrap();
    let cut = &text[..text.len() - 30];
    std::fs::write(&dir.file, cut).unwrap();
    let partial = &cut[cut.rfind('\n').unwrap() + 1..];

    let log = open(&dir.file);
    // The partial bytes are kept beside the file, as evidence.
    let evidence: Vec<_> = std::fs::read_dir(dir.file.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".partial-"))
        .collect();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    assert_eq!(
        std::fs::read_to_string(evidence[0].path()).unwrap(),
        partial
    );
    // The chain says so, and continues after the last whole record.
    let repaired = log.recent(1).pop().unwrap();
    assert_eq!(repaired.seq, 3);
    assert_eq!(repaired.record.action, "audit.repaired");
    assert!(
        repaired
            .record
            .reason
            .as_deref()
            .is_some_and(|r| r.contains(&sha256_hex(partial.as_bytes()))),
        "{repaired:?}"
    );
    assert_eq!(log.record(record(9)).unwrap().seq, 4);
    assert_eq!(verify(&dir.file).unwrap().records, 4);
}

#[test]
fn a_file_of_one_partial_line_still_stops_the_start() {
    let dir = dir();
    std::fs::write(&dir.file, "{\"seq\":1,\"at\":").unwrap();
    assert!(matches!(
        AuditLog::open(&AuditSettings::new(&dir.file), "x"),
        Err(AuditError::Corrupt { .. })
    ));
}

#[test]
fn a_last_line_that_does_not_follow_the_one_before_is_refused_at_open() {
    let dir = dir();
    {
        let log = open(&dir.file);
        for n in 0..3 {
            log.record(record(n)).unwrap();
        }
    }
    let mut lines = lines(&dir.file);
    lines.remove(1); // the last line (seq 3) now follows seq 1
    write_lines(&dir.file, &lines);
    let (line, reason, _) = corrupt(AuditLog::open(&AuditSettings::new(&dir.file), "x"));
    assert_eq!(line, "line 2");
    assert!(reason.starts_with("seq is 3, expected 2"), "{reason}");
}

#[test]
fn a_moved_file_starts_a_new_chain_at_the_configured_path() {
    let dir = dir();
    let log = open(&dir.file);
    for n in 0..3 {
        log.record(record(n)).unwrap();
    }
    let archived = dir.file.with_extension("jsonl.1");
    std::fs::rename(&dir.file, &archived).unwrap();
    let next = log.record(record(3)).unwrap();
    assert_eq!(next.seq, 1, "a new chain");
    assert_eq!(
        verify(&archived).unwrap().records,
        3,
        "the archive is intact"
    );
    assert_eq!(verify(&dir.file).unwrap().records, 1);
    assert_eq!(log.record(record(4)).unwrap().seq, 2);
    assert_eq!(verify(&dir.file).unwrap().records, 2);
}

#[test]
fn a_disabled_log_has_no_file_and_keeps_records_in_memory() {
    let dir = dir();
    let mut settings = AuditSettings::new(&dir.file);
    settings.enabled = false;
    let log = AuditLog::open(&settings, "hello-service").unwrap();
    assert!(log.path().is_none());
    let written = log.record(record(0)).unwrap();
    assert_eq!(log.recent(10), [written]);
    assert!(!dir.file.exists());
}

#[test]
fn a_file_another_process_writes_is_refused() {
    let dir = dir();
    // Another process's lock: flock locks belong to an open file, so a second open of it in
    // this process stands in for another process.
    let other = std::fs::File::create(&dir.file).unwrap();
    other.try_lock().unwrap();
    let error = AuditLog::open(&AuditSettings::new(&dir.file), "hello-service").unwrap_err();
    assert!(matches!(error, AuditError::InUse { .. }), "{error:?}");
    assert!(error.to_string().contains("its own audit.file"), "{error}");
    drop(other);
    assert_eq!(
        open(&dir.file).record(record(0)).unwrap().seq,
        1,
        "free once closed"
    );
}

#[test]
fn logs_of_one_file_in_one_process_share_one_chain() {
    let dir = dir();
    let first = open(&dir.file);
    let mut settings = AuditSettings::new(dir.file.parent().unwrap().join(".").join("audit.jsonl"));
    settings.recent = 3;
    let second = AuditLog::open(&settings, "switches").unwrap();
    for n in 0..4 {
        let log = if n % 2 == 0 { &first } else { &second };
        assert_eq!(log.record(record(n)).unwrap().seq, n as u64 + 1);
    }
    assert_eq!(verify(&dir.file).unwrap().records, 4);
    assert_eq!(second.recent(10).len(), 3, "its own limit");
    assert_eq!(first.recent(10).len(), 4);
    let services: Vec<String> = first.recent(10).into_iter().map(|r| r.service).collect();
    assert_eq!(
        services,
        ["hello-service", "switches", "hello-service", "switches"]
    );

    // A restart while a clone of the old log lives on (a task not yet finished).
    let clone = first.clone();
    drop(first);
    drop(second);
    let reopened = open(&dir.file);
    assert_eq!(reopened.record(record(4)).unwrap().seq, 5);
    drop(clone);
    drop(reopened);
    let fresh = open(&dir.file);
    assert_eq!(
        fresh.record(record(5)).unwrap().seq,
        6,
        "continued from the file"
    );
    assert_eq!(verify(&dir.file).unwrap().records, 6);
}
