//! Hot reload: good edits are published, broken edits keep the last good configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use boost_config::ConfigError;
use common::{Fixture, Settings, load};
use tokio::sync::watch;

/// Generous: file-system events on a loaded 2-core CI machine can be slow.
const PATIENCE: Duration = Duration::from_secs(20);

async fn wait_for(
    rx: &mut watch::Receiver<Arc<Settings>>,
    what: &str,
    ok: impl Fn(&Settings) -> bool,
) {
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            if ok(&rx.borrow_and_update()) {
                return;
            }
            rx.changed().await.expect("the watcher stopped");
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_edit_is_applied_and_broken_edits_keep_the_last_good_config() {
    let fx = Fixture::new();
    fx.write("default.toml", "[profiles]\nretries = 1\n");
    let config = load(&fx.loader().reload_debounce(Duration::from_millis(100)));
    let mut rx = config.watch().unwrap();
    assert_eq!(rx.borrow().profiles.retries, 1);

    fx.write("default.toml", "[profiles]\nretries = 2\n");
    wait_for(&mut rx, "the good edit", |s| s.profiles.retries == 2).await;

    // A type error, a syntax error and a validation failure: none is applied.
    for broken in [
        "[profiles]\nretries = \"many\"\n",
        "[profiles\nretries = 5\n",
        "[profiles]\nretries = 5\n[db]\npool_size = 0\n",
    ] {
        fx.write("default.toml", broken);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            rx.borrow().profiles.retries,
            2,
            "a broken edit replaced the configuration:\n{broken}"
        );
    }

    // The watcher is still alive: the next good edit (to another layer) applies.
    fx.write("local.toml", "[profiles]\nretries = 3\n");
    fx.write("default.toml", "[profiles]\nretries = 2\n");
    wait_for(&mut rx, "the next good edit", |s| s.profiles.retries == 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_created_after_start_is_picked_up() {
    let fx = Fixture::new();
    let config = load(&fx.loader().reload_debounce(Duration::from_millis(50)));
    let mut rx = config.watch().unwrap();
    fx.write("dev.toml", "[db]\npool_size = 42\n");
    wait_for(&mut rx, "the new dev.toml", |s| s.db.pool_size == 42).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_stops_when_the_receiver_is_dropped() {
    let fx = Fixture::new();
    let config = load(&fx.loader());
    let probe = config.shared();
    let rx = config.watch().unwrap();
    // `config`, the channel and `probe` hold the value.
    assert_eq!(Arc::strong_count(&probe), 3);
    drop(rx);
    let stopped = tokio::time::timeout(PATIENCE, async {
        while Arc::strong_count(&probe) != 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        stopped.is_ok(),
        "the watch task still holds the configuration"
    );
}

#[test]
fn watch_outside_a_runtime_is_an_error() {
    let fx = Fixture::new();
    let config = load(&fx.loader());
    let error = config.watch().unwrap_err();
    assert!(matches!(error, ConfigError::Watch { .. }), "{error:?}");
    assert!(error.to_string().contains("Tokio runtime"), "{error}");
}

#[tokio::test]
async fn watch_without_any_config_directory_is_an_error() {
    let config = load(
        &boost_config::Loader::new("hello-service")
            .dir("/definitely/not/here")
            .env_vars(Vec::<(String, String)>::new()),
    );
    let error = config.watch().unwrap_err();
    assert!(
        error.to_string().contains("/definitely/not/here"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_loaded_publishes_the_explanation_of_the_new_config() {
    let fx = Fixture::new();
    fx.write("default.toml", "[profiles]\nretries = 1\n");
    let config = load(&fx.loader().reload_debounce(Duration::from_millis(50)));
    let mut rx = config.watch_loaded().unwrap();
    let local = fx.write("local.toml", "[profiles]\nretries = 6\n");
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            if rx.borrow_and_update().profiles.retries == 6 {
                return;
            }
            rx.changed().await.expect("the watcher stopped");
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for the reload");
    let explained = rx.borrow().explain();
    let line = explained
        .lines()
        .find(|line| line.starts_with("retries = 6 "))
        .unwrap_or_else(|| panic!("no retries line in:\n{explained}"));
    assert!(
        line.ends_with(&format!("# file {}", local.display())),
        "{explained}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_saving_by_rename_is_picked_up() {
    let fx = Fixture::new();
    fx.write("default.toml", "[profiles]\nretries = 1\n");
    let config = load(&fx.loader().reload_debounce(Duration::from_millis(50)));
    let mut rx = config.watch().unwrap();
    let temp = fx.write(".default.toml.swp", "[profiles]\nretries = 4\n");
    std::fs::rename(temp, fx.path("default.toml")).unwrap();
    wait_for(&mut rx, "the renamed file", |s| s.profiles.retries == 4).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubernetes_configmap_update_is_picked_up() {
    use std::os::unix::fs::symlink;

    // The layout kubelet makes: default.toml -> ..data/default.toml,
    // ..data -> ..<timestamp>/, and an update swaps ..data atomically.
    let fx = Fixture::new();
    let first = fx.path("..2026_01_01_v1");
    std::fs::create_dir(&first).unwrap();
    std::fs::write(first.join("default.toml"), "[profiles]\nretries = 1\n").unwrap();
    symlink("..2026_01_01_v1", fx.path("..data")).unwrap();
    symlink("..data/default.toml", fx.path("default.toml")).unwrap();

    let config = load(&fx.loader().reload_debounce(Duration::from_millis(50)));
    assert_eq!(config.profiles.retries, 1);
    let mut rx = config.watch().unwrap();

    let second = fx.path("..2026_01_01_v2");
    std::fs::create_dir(&second).unwrap();
    std::fs::write(second.join("default.toml"), "[profiles]\nretries = 8\n").unwrap();
    symlink("..2026_01_01_v2", fx.path("..data_tmp")).unwrap();
    std::fs::rename(fx.path("..data_tmp"), fx.path("..data")).unwrap();

    wait_for(&mut rx, "the ConfigMap update", |s| s.profiles.retries == 8).await;
}

/// The log events of the reload task, as text (a current-thread runtime runs
/// the task on the test's own thread, so a thread-local subscriber sees them).
#[derive(Clone, Default)]
struct Events(Arc<std::sync::Mutex<Vec<u8>>>);

impl Events {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        // With one dispatcher alive, tracing-core judges a call site by the
        // thread that reaches it first; a test without a capture would cache
        // "never" for this one. A second, idle dispatcher makes it ask all.
        static KEEPER: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        KEEPER.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let events = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || events.clone())
            .with_ansi(false)
            .without_time()
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    async fn wait_for(&self, what: &str) -> String {
        let waited = tokio::time::timeout(PATIENCE, async {
            loop {
                let text = self.text();
                if text.contains(what) {
                    return text;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("no {what:?} event in:\n{}", self.text()))
    }
}

impl std::io::Write for Events {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_broken_edit_is_reported_as_an_error_event_naming_key_and_file() {
    let events = Events::default();
    let _capture = events.capture();
    let fx = Fixture::new();
    fx.write("default.toml", "[profiles]\nretries = 1\n");
    let config = load(&fx.loader().reload_debounce(Duration::from_millis(50)));
    let rx = config.watch().unwrap();

    let file = fx.write("default.toml", "[profiles]\nretries = \"many\"\n");
    let text = events.wait_for("configuration reload failed").await;
    // The event (its error field spans several lines: one per problem).
    let at = text.find("configuration reload failed").unwrap();
    let start = text[..at].rfind("ERROR").unwrap_or(usize::MAX);
    assert!(
        start != usize::MAX && !text[start..at].contains('\n'),
        "not an ERROR event:\n{text}"
    );
    let event = &text[start..];
    assert!(event.contains("service=hello-service"), "{event}");
    assert!(event.contains("`profiles.retries`"), "{event}");
    assert!(event.contains(&file.display().to_string()), "{event}");
    assert_eq!(
        rx.borrow().profiles.retries,
        1,
        "the last good config stays"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn edits_within_the_debounce_window_cause_one_reload() {
    let events = Events::default();
    let _capture = events.capture();
    let fx = Fixture::new();
    fx.write("default.toml", "[profiles]\nretries = 1\n");
    // Edits 20 ms apart against a 1 s debounce: a wide margin on a loaded machine.
    let config = load(&fx.loader().reload_debounce(Duration::from_secs(1)));
    let mut rx = config.watch().unwrap();
    for retries in 10..14 {
        fx.write(
            "default.toml",
            &format!("[profiles]\nretries = {retries}\n"),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for(&mut rx, "the last edit", |s| s.profiles.retries == 13).await;
    // Anything still pending would reload within one more debounce window.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let text = events.text();
    assert_eq!(
        text.matches("configuration reloaded").count(),
        1,
        "the burst of edits should reload once:\n{text}"
    );
    assert_eq!(rx.borrow().profiles.retries, 13);
}
