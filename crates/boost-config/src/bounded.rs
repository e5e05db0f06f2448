//! Reading a file with a size bound, so that a path naming `/dev/zero`, a
//! log file or a disk image fails fast with an error instead of growing the
//! process's memory until it dies.

use std::io::{self, Read};
use std::path::Path;

/// The largest config file (`default.toml`, `<environment>.toml`,
/// `local.toml`, `--config <file>`) the loader reads: 4 MiB. Hand-written
/// files are a few KiB; this leaves room for generated tables of ~100,000
/// keys, which the loader reads in well under a second.
pub(crate) const MAX_CONFIG_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The largest secret file (`…_FILE` environment variables) the loader
/// reads: 64 KiB, far more than any token, password or PEM key.
pub(crate) const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Why a bounded read failed.
pub(crate) enum ReadError {
    /// Opening or reading failed.
    Io(io::Error),
    /// The file holds more than the limit (or never ends, like `/dev/zero`).
    TooLarge,
}

/// The whole content of `path` if it is at most `limit` bytes. Reads at most
/// `limit + 1` bytes whatever the file is, so a device that never ends costs
/// no more than a file one byte too large.
pub(crate) fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge);
    }
    Ok(bytes)
}

/// A byte count for an error message: `4 MiB`, `64 KiB`, `100 bytes`.
pub(crate) fn show(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read(&path, 5).ok(), Some(b"12345".to_vec()));
        assert!(matches!(read(&path, 4), Err(ReadError::TooLarge)));
    }

    #[cfg(unix)]
    #[test]
    fn a_device_that_never_ends_is_refused_by_the_bound() {
        assert!(matches!(
            read(Path::new("/dev/zero"), 1024),
            Err(ReadError::TooLarge)
        ));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(show(MAX_CONFIG_FILE_BYTES), "4 MiB");
        assert_eq!(show(MAX_SECRET_FILE_BYTES), "64 KiB");
        assert_eq!(show(100), "100 bytes");
    }
}
