//! The open-files limit (`ulimit -n`) a server's connection cap must fit in:
//! past it `accept()` fails for every server of the process, probes included,
//! so the cap would not protect anything.

/// Descriptors kept for everything but accepted connections: listeners, log
/// and config files, outgoing connections, the runtime's own.
const HEADROOM: u64 = 64;

/// Raises the soft open-files limit to the hard one (Go's runtime does the
/// same at start; nginx has `worker_rlimit_nofile`), then warns, naming the
/// keys, when `connections` (a server's cap plus its reserve) and the headroom
/// do not fit in it.
pub(crate) fn fit(server: &'static str, connections: usize) {
    let Some(limit) = raise() else {
        return;
    };
    let connections = u64::try_from(connections).unwrap_or(u64::MAX);
    if let Some(problem) = problem(server, limit, connections) {
        tracing::warn!(server, open_files_limit = limit, connections, "{problem}");
    }
}

/// The message when `connections` plus [`HEADROOM`] exceed `limit`.
fn problem(server: &str, limit: u64, connections: u64) -> Option<String> {
    let needed = connections.saturating_add(HEADROOM);
    (needed > limit).then(|| {
        format!(
            "the {server} server may open {connections} connections (its max_connections + \
             probe_connections) but the open-files limit is {limit}: past it accept() fails for \
             every server, health probes included. Lower {server}'s max_connections to at most \
             {} or raise the limit (`ulimit -n`, LimitNOFILE=)",
            limit.saturating_sub(HEADROOM)
        )
    })
}

/// The soft limit after raising it to the hard one; `None` when unlimited or unknown.
#[cfg(unix)]
fn raise() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current?;
    match limit.maximum {
        Some(maximum) if maximum > current => {
            let raised = Rlimit {
                current: Some(maximum),
                maximum: Some(maximum),
            };
            // macOS refuses values above OPEN_MAX: keep the current limit then.
            Some(if setrlimit(Resource::Nofile, raised).is_ok() {
                maximum
            } else {
                current
            })
        }
        _ => Some(current),
    }
}

#[cfg(not(unix))]
fn raise() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn a_cap_that_does_not_fit_the_open_files_limit_names_the_keys_and_the_fix() {
        let message = problem("grpc", 256, 516).unwrap();
        assert!(
            message.contains("max_connections to at most 192"),
            "{message}"
        );
        assert!(message.contains("ulimit -n"), "{message}");
        assert!(problem("grpc", 1_048_576, 516).is_none());
        assert!(problem("admin", 4096, 68).is_none());
    }
}
