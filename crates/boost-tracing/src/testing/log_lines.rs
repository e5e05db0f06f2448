//! [`LogLines`]: an in-memory writer for the real log lines.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::lock;

/// An in-memory log writer for tests: clone it into [`crate::Builder::blocking_writer`] (or
/// [`crate::Builder::writer`]), then read back what was written.
#[derive(Clone, Debug, Default)]
pub struct LogLines(Arc<Mutex<Vec<u8>>>);

impl LogLines {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }

    /// Every line written so far, parsed as JSON; a line that is not JSON becomes a JSON
    /// string holding the line, so a test's assertion shows it.
    pub fn json(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::from(l)))
            .collect()
    }
}

impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
