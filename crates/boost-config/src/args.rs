//! Layer 6: the command-line arguments the loader owns.

use std::path::PathBuf;

use crate::error::ConfigError;
use crate::tree::KeyPath;

/// The loader's arguments, and everything else left for the service.
#[derive(Clone, Default)]
pub(crate) struct Args {
    /// `--set key=value`, in order.
    pub(crate) sets: Vec<(KeyPath, String)>,
    /// `--config <file>`.
    pub(crate) config: Option<PathBuf>,
    /// `--print-config` was given.
    pub(crate) print_config: bool,
    /// Arguments the loader does not own, in order.
    pub(crate) rest: Vec<String>,
}

/// Splits `args` (without the program name) into the loader's and the rest.
/// Everything after `--` is left for the service untouched.
pub(crate) fn parse(args: &[String]) -> Result<Args, ConfigError> {
    let mut out = Args::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--" => {
                out.rest.push(arg.clone());
                out.rest.extend(iter.by_ref().cloned());
            }
            "--print-config" => out.print_config = true,
            "--set" => {
                let Some(value) = iter.next() else {
                    return Err(arg_error("--set", "needs `key=value` after it"));
                };
                out.sets.push(parse_set(value)?);
            }
            "--config" => {
                let Some(value) = iter.next() else {
                    return Err(arg_error("--config", "needs a file path after it"));
                };
                out.config = Some(PathBuf::from(value));
            }
            other => {
                if let Some(value) = other.strip_prefix("--set=") {
                    out.sets.push(parse_set(value)?);
                } else if let Some(value) = other.strip_prefix("--config=") {
                    if value.is_empty() {
                        return Err(arg_error("--config", "needs a file path"));
                    }
                    out.config = Some(PathBuf::from(value));
                } else {
                    out.rest.push(other.to_owned());
                }
            }
        }
    }
    Ok(out)
}

fn arg_error(arg: &str, message: &str) -> ConfigError {
    ConfigError::Arg {
        arg: arg.to_owned(),
        message: message.to_owned(),
    }
}

/// `grpc.listen=127.0.0.1:6000` → (`["grpc", "listen"]`, `127.0.0.1:6000`).
/// Errors quote only the key, never the value (it may be a secret).
fn parse_set(text: &str) -> Result<(KeyPath, String), ConfigError> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(arg_error(
            "--set",
            "needs `key=value` (e.g. --set grpc.listen=127.0.0.1:6000); the text given has no `=`",
        ));
    };
    let key = key.trim();
    let path: KeyPath = key.split('.').map(str::to_owned).collect();
    let valid = path.iter().all(|segment| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if !valid || path.len() > crate::tree::MAX_DEPTH {
        return Err(ConfigError::Arg {
            arg: format!("--set {}=…", shorten(key)),
            message: "the key must be at most 32 dotted segments of letters, digits, `_` and \
                      `-`, e.g. grpc.listen"
                .to_owned(),
        });
    }
    Ok((path, value.to_owned()))
}

/// At most 60 characters of `text`, for echoing user input in errors.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn loader_flags_are_taken_and_the_rest_kept_in_order() {
        let parsed = parse(&args(&[
            "-v",
            "--set",
            "a.b=1=2",
            "--config=x.toml",
            "--print-config",
            "run",
        ]))
        .unwrap();
        assert_eq!(
            parsed.sets,
            [(vec!["a".to_owned(), "b".to_owned()], "1=2".to_owned())]
        );
        assert_eq!(parsed.config.unwrap().to_str(), Some("x.toml"));
        assert!(parsed.print_config);
        assert_eq!(parsed.rest, ["-v", "run"]);
    }

    #[test]
    fn missing_values_are_errors() {
        assert!(parse(&args(&["--config"])).is_err());
        assert!(parse(&args(&["--config="])).is_err());
        assert!(parse(&args(&["--set", "=1"])).is_err());
        assert!(parse(&args(&["--set", "a.=1"])).is_err());
    }
}
