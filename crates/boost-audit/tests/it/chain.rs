//! Records are chained: seq counts from 1, prev is the previous line's hash, and the file
//! verifies.

use boost_audit::{
    AuditLog, AuditRecord, ChainedRecord, GENESIS_PREV, UNKNOWN_ACTOR, verify, verify_command,
};

use crate::{dir, lines, open, record, sha256_hex};

#[test]
fn a_chain_of_records_verifies() {
    let dir = dir();
    let log = open(&dir.file);
    let mut written = Vec::new();
    for n in 0..25 {
        written.push(log.record(record(n)).unwrap());
    }
    let lines = lines(&dir.file);
    assert_eq!(lines.len(), 25);
    for (i, (line, record)) in lines.iter().zip(&written).enumerate() {
        let parsed: ChainedRecord = serde_json::from_str(line).unwrap();
        assert_eq!(&parsed, record, "line {} is what record() returned", i + 1);
        assert_eq!(parsed.seq, i as u64 + 1);
        let prev = if i == 0 {
            GENESIS_PREV.to_owned()
        } else {
            sha256_hex(lines[i - 1].as_bytes())
        };
        assert_eq!(parsed.prev, prev, "line {}", i + 1);
        assert_eq!(parsed.service, "hello-service");
        assert!(
            parsed.at.ends_with('Z') && parsed.at.len() == 24,
            "{}",
            parsed.at
        );
    }
    let verified = verify(&dir.file).unwrap();
    assert_eq!(verified.records, 25);
    assert_eq!(verified.last_hash, written[24].hash);
    assert_eq!(
        log.verify_file().unwrap().unwrap(),
        verified,
        "verify_file checks the same file"
    );

    let (message, ok) = verify_command(&dir.file);
    assert!(ok, "{message}");
    assert!(
        message.contains("25 records, chain intact (last hash ")
            && message.contains(&written[24].hash),
        "{message}"
    );
}

#[test]
fn an_empty_file_verifies_with_no_records() {
    let dir = dir();
    let _log = open(&dir.file);
    let verified = verify(&dir.file).unwrap();
    assert_eq!(verified.records, 0);
    assert_eq!(verified.last_hash, GENESIS_PREV);
}

#[test]
fn a_token_fingerprint_is_written_as_given_and_never_the_token() {
    let secret = "s3cr3t-admin-token-do-not-log";
    let fingerprint = format!("sha256:{}", &sha256_hex(secret.as_bytes())[..8]);
    let dir = dir();
    let log = open(&dir.file);
    let written = log
        .record(
            AuditRecord::new("switch.set", "partner_hertz", "changed")
                .actor("jo")
                .token(fingerprint.clone()),
        )
        .unwrap();
    assert_eq!(written.record.token.as_deref(), Some(fingerprint.as_str()));
    let text = std::fs::read_to_string(&dir.file).unwrap();
    assert!(
        text.contains(&format!(r#""token":"{fingerprint}""#)),
        "{text}"
    );
    assert!(!text.contains(secret), "{text}");
}

#[test]
fn an_actor_not_given_is_unknown_and_absent_fields_are_null() {
    let dir = dir();
    let log = open(&dir.file);
    let written = log
        .record(AuditRecord::new(
            "admin.refused",
            "PUT /flags/x",
            "unauthenticated",
        ))
        .unwrap();
    assert_eq!(written.record.actor, UNKNOWN_ACTOR);
    let line = &lines(&dir.file)[0];
    assert!(
        line.contains(r#""actor":"unknown","token":null,"peer":null,"action":"admin.refused""#),
        "{line}"
    );
}

#[test]
fn an_in_memory_log_chains_records_without_a_file() {
    let log = AuditLog::in_memory("hello-service");
    assert!(log.path().is_none());
    assert!(log.verify_file().is_none());
    let first = log.record(record(1)).unwrap();
    let second = log.record(record(2)).unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(first.prev, GENESIS_PREV);
    let first_line = serde_json::to_string(&first).unwrap();
    assert_eq!(second.prev, sha256_hex(first_line.as_bytes()));
    assert_eq!(log.recent(10), [first, second]);
}
