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
