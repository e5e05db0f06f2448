//! Editing, deleting, inserting or cutting a line makes `verify` fail, naming the first
//! broken line (the table in `VerifyError::Broken`'s docs).

use std::path::Path;

use boost_audit::{MAX_LINE_BYTES, VerifyError, verify, verify_command};

use crate::{dir, lines, open, record, rehash, write_lines};

/// A file of `n` records.
fn file_of(n: usize) -> crate::Dir {
    let dir = dir();
    let log = open(&dir.file);
    for i in 0..n {
        log.record(record(i)).unwrap();
    }
    dir
}

fn broken(path: &Path) -> (u64, String) {
    match verify(path) {
        Err(VerifyError::Broken { line, reason }) => (line, reason),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[test]
fn editing_a_field_of_line_k_names_line_k() {
    let dir = file_of(6);
    let mut lines = lines(&dir.file);
    lines[2] = lines[2].replace(r#""actor":"jo""#, r#""actor":"al""#);
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 3, "{reason}");
    assert!(reason.starts_with("hash does not match"), "{reason}");
}

#[test]
fn editing_line_k_and_recomputing_its_hash_names_line_k_plus_1() {
    let dir = file_of(6);
    let mut lines = lines(&dir.file);
    lines[2] = rehash(&lines[2].replace(r#""new":"off""#, r#""new":"on""#));
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 4, "{reason}");
    assert!(reason.starts_with("prev does not match line 3"), "{reason}");
}

#[test]
fn deleting_line_k_names_line_k() {
    let dir = file_of(6);
    let mut lines = lines(&dir.file);
    lines.remove(2);
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 3, "{reason}");
    assert!(reason.starts_with("seq is 4, expected 3"), "{reason}");
}

#[test]
fn deleting_the_first_line_names_line_1() {
    let dir = file_of(3);
    let mut lines = lines(&dir.file);
    lines.remove(0);
    write_lines(&dir.file, &lines);
    assert_eq!(broken(&dir.file).0, 1);
}

#[test]
fn renumbering_after_a_deleted_line_still_names_it() {
    // Line 3 deleted, the later lines renumbered and rehashed: the new line 3 still holds
    // the deleted line's hash as its prev.
    let dir = file_of(5);
    let mut lines = lines(&dir.file);
    lines.remove(2);
    for (i, line) in lines.iter_mut().enumerate().skip(2) {
        let seq = format!(r#"{{"seq":{},"#, i + 1);
        let rest = line.split_once(',').unwrap().1.to_owned();
        *line = rehash(&format!("{seq}{rest}"));
    }
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 3, "{reason}");
    assert!(reason.starts_with("prev does not match line 2"), "{reason}");
}

#[test]
fn a_duplicated_line_is_named() {
    let dir = file_of(4);
    let mut lines = lines(&dir.file);
    let copy = lines[1].clone();
    lines.insert(2, copy);
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 3, "{reason}");
    assert!(reason.starts_with("seq is 2, expected 3"), "{reason}");
}

#[test]
fn truncating_the_last_lines_hash_names_the_last_line() {
    let dir = file_of(4);
    let mut lines = lines(&dir.file);
    let last = lines.pop().unwrap();
    // Drop the last 10 hex digits of the hash, keep the line valid JSON.
    let cut = format!("{}\"}}", &last[..last.len() - 12]);
    lines.push(cut);
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 4, "{reason}");
    assert!(reason.starts_with("hash is not 64"), "{reason}");
}

#[test]
fn a_last_line_cut_short_names_the_last_line() {
    let dir = file_of(4);
    let text = std::fs::read_to_string(&dir.file).unwrap();
    std::fs::write(&dir.file, &text[..text.len() - 20]).unwrap();
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 4, "{reason}");
    assert!(reason.starts_with("incomplete"), "{reason}");
}

#[test]
fn an_overlong_line_is_broken_without_reading_it_all() {
    let dir = file_of(2);
    let mut lines = lines(&dir.file);
    lines.insert(1, "x".repeat(MAX_LINE_BYTES * 4));
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 2, "{reason}");
    assert!(reason.starts_with("longer than 65536 bytes"), "{reason}");
}

#[test]
fn garbage_and_empty_lines_are_broken() {
    let dir = file_of(2);
    let mut lines = lines(&dir.file);
    lines.insert(1, "not json".to_owned());
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 2);
    assert!(reason.starts_with("not a valid audit record"), "{reason}");

    lines[1] = String::new();
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 2);
    assert!(reason.starts_with("empty"), "{reason}");
}

#[test]
fn verify_command_names_the_file_and_the_broken_line() {
    let dir = file_of(3);
    let mut lines = lines(&dir.file);
    lines[1] = rehash(&lines[1].replace("test 1", "test one"));
    write_lines(&dir.file, &lines);
    let (message, ok) = verify_command(&dir.file);
    assert!(!ok);
    assert_eq!(
        message,
        format!(
            "{}: line 3 is broken: prev does not match line 2 (line 2 was edited, or a line \
             after it deleted)",
            dir.file.display()
        )
    );
}

#[test]
fn verify_command_reports_a_missing_file() {
    let dir = dir();
    let (message, ok) = verify_command(&dir.file);
    assert!(!ok);
    assert!(message.contains("cannot read"), "{message}");
    assert!(matches!(verify(&dir.file), Err(VerifyError::Io { .. })));
}

#[test]
fn bytes_after_the_hash_field_are_broken() {
    let dir = file_of(3);
    let mut lines = lines(&dir.file);
    let last = lines.pop().unwrap();
    lines.push(format!(
        r#"{},"outcome":"refused"}}"#,
        &last[..last.len() - 1]
    ));
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 3, "{reason}");
    assert!(
        reason.starts_with("has bytes after its hash field") || reason.starts_with("not a valid"),
        "{reason}"
    );

    lines[2] = format!("{last} ");
    write_lines(&dir.file, &lines);
    let (line, reason) = broken(&dir.file);
    assert_eq!(line, 3, "{reason}");
    assert!(
        reason.starts_with("has bytes after its hash field"),
        "{reason}"
    );
}
