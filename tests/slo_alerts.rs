//! End to end: Prometheus scrapes two hello-service instances with the rules
//! the hello-service binary generates (`--print-alert-rules --slo-time-scale
//! 1/20`: the windows shortened so alerts fire in minutes), Alertmanager
//! routes with the route the binary generates to a webhook receiver in this
//! test.
//!
//! - Instance `slow` calls a profile-service that answers every lookup, but
//!   only after 270 ms: just inside hello-service's 300 ms
//!   `profiles.timeout`, so no call fails — throttling and outlier ejection,
//!   which react to failures, stay out of it with the kit's defaults — yet
//!   its greetings are slower than the 250 ms latency objective. The latency
//!   page fires, and the webhook receives it with the configured `team`,
//!   `severity` and a `runbook_url` whose anchor is a section of the runbook
//!   hello-service serves.
//! - Instance `failing` calls two profile-service endpoints that refuse
//!   every call (`UNAVAILABLE`): retries, retries refused by the retry
//!   budget, an ejected endpoint, throttling — the degradation the
//!   dashboard's upstream panels show.
//!
//! Then every query of the dashboard the binary generates (`--print-dashboard`)
//! returns data from that Prometheus, except those of the HTTP client
//! metrics: hello-service has no HTTP client, and the test checks that they
//! are empty for that reason (no `http_client_*` series on its `/metrics`).
//!
//! Needs `prometheus` (Debian package `prometheus`) and
//! `prometheus-alertmanager` (Debian package `prometheus-alertmanager`), both
//! installed by `.ci/install-test-programs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Example, Launch, ServiceProcess, http_get, say_hello};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TEAM: &str = "e2e-greeters";

/// How long the slow profile-service takes per lookup: inside hello-service's
/// 300 ms `profiles.timeout`, beyond the 250 ms latency objective.
const SLOW: Duration = Duration::from_millis(270);

/// Attempts at starting Prometheus or Alertmanager on a free port.
const START_ATTEMPTS: u32 = 5;

/// A child process killed when dropped, with its directory.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free a moment ago. Another process may take it before the server
/// binds it: [`start_server`] then tries again with another one.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `program` (its flags from `args`, given the `host:port` to
/// listen on) and waits for `/-/ready`. Picking a free port and handing it
/// over is racy (a free port may be taken before the program binds it), so a
/// start that fails with "address already in use" is retried on another
/// port, [`START_ATTEMPTS`] times at most; any other failure ends the test
/// with the program's output.
/// `next_port` gives the port of each attempt ([`free_port`] but in the
/// test of the retry itself).
async fn start_server(
    program: &str,
    dir: tempfile::TempDir,
    args: impl Fn(&str) -> Vec<String>,
    what: &str,
    next_port: &mut dyn FnMut() -> u16,
) -> Server {
    for attempt in 1..=START_ATTEMPTS {
        let listen = format!("127.0.0.1:{}", next_port());
        let url = format!("http://{listen}");
        let log = dir.path().join(format!("{program}-{attempt}.log"));
        let mut child = Command::new(program)
            .args(args(&listen))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{program} not found ({e}): apt-get install prometheus \
                     prometheus-alertmanager (see .ci/install-test-programs)"
                )
            });
        match wait_ready(&mut child, &url).await {
            Ok(()) => {
                return Server {
                    child,
                    url,
                    _dir: dir,
                };
            }
            Err(ended) => {
                let _ = child.kill();
                let _ = child.wait();
                let output = std::fs::read_to_string(&log).unwrap_or_default();
                assert!(
                    output.contains("address already in use") && attempt < START_ATTEMPTS,
                    "{program} ({what}) {ended} (attempt {attempt} of {START_ATTEMPTS}):\n{output}"
                );
            }
        }
    }
    unreachable!("the last attempt returns or fails the test")
}

/// Waits until the server at `url` answers `/-/ready` while `child` still
/// runs; `Err` says how it ended when it exits first.
async fn wait_ready(child: &mut Child, url: &str) -> Result<(), String> {
    // Each probe bounded: a port taken by another process may accept the
    // connection and never answer.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status} before it was ready"));
        }
        if let Ok(response) = client.get(format!("{url}/-/ready")).send().await
            && response.status().is_success()
            // Ready, and it is ours: not another process on the same port.
            && matches!(child.try_wait(), Ok(None))
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("was not ready after 60s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs hello-service with `flags` and the test's team, printing something
/// generated from its configuration; its stdout.
fn generate(flags: &[&str], admin_url: &str) -> String {
    let mut launch = Launch::new(Example::Hello)
        .set("SERVICE__TEAM", TEAM)
        // The runbook links point at the instance the test reads the
        // runbook from (its admin port is only known once it runs).
        .set("SLO__ADMIN_URL", admin_url);
    for flag in flags {
        launch = launch.arg(*flag);
    }
    let (status, stdout, stderr) = launch.run_to_exit();
    assert!(
        status.success(),
        "hello-service {flags:?}: {status}\n{stderr}"
    );
    stdout
}

/// Alertmanager with the route hello-service generates under a root route,
/// its page receiver posting to `webhook`.
async fn start_alertmanager(
    route: &str,
    webhook: &str,
    next_port: &mut dyn FnMut() -> u16,
) -> Server {
    let routes = route
        .split("receivers:\n")
        .next()
        .unwrap()
        .replace(
            "route:\n",
            "route:\n  receiver: fallback\n  group_wait: 1s\n  group_interval: 1s\n",
        )
        // The page route waits 30s before its first notification in
        // production; the test does not.
        .replace("group_wait: 30s", "group_wait: 1s");
    let config = format!(
        "{routes}receivers:\n  - name: fallback\n  - name: {TEAM}-page\n    webhook_configs:\n      - url: {webhook}\n        send_resolved: false\n  - name: {TEAM}-ticket\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alertmanager.yml");
    std::fs::write(&file, &config).unwrap();
    let data = dir.path().join("data");
    start_server(
        "prometheus-alertmanager",
        dir,
        |listen| {
            vec![
                format!("--config.file={}", file.display()),
                format!("--storage.path={}", data.display()),
                format!("--web.listen-address={listen}"),
                "--cluster.listen-address=".to_owned(),
            ]
        },
        &format!("with\n{config}"),
        next_port,
    )
    .await
}

async fn start_prometheus(
    targets: &[std::net::SocketAddr],
    rules: &str,
    alertmanager: &str,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let rules_file = dir.path().join("rules.yml");
    std::fs::write(&rules_file, rules).unwrap();
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files: [{rules}]\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am}']\n\
         scrape_configs:\n  - job_name: hello-service\n    static_configs:\n      - targets: [{targets}]\n",
        rules = rules_file.display(),
        am = alertmanager.trim_start_matches("http://"),
        targets = targets.join(", "),
    );
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    let data = dir.path().join("data");
    start_server(
        "prometheus",
        dir,
        |listen| {
            vec![
                format!("--config.file={}", file.display()),
                format!("--storage.tsdb.path={}", data.display()),
                format!("--web.listen-address={listen}"),
            ]
        },
        "with the generated rules",
        &mut free_port,
    )
    .await
}

/// A webhook receiver: every request body it got.
async fn start_webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                // Bounded: a notification is a few KiB.
                while buffer.len() < 1 << 20 {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buffer).into_owned();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..end]
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buffer.len() >= end + 4 + length {
                        let body = &buffer[end + 4..end + 4 + length];
                        if let Ok(json) = serde_json::from_slice(body) {
                            sink.lock().unwrap().push(json);
                        }
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                }
            });
        }
    });
    (url, received)
}

/// A profile-service that answers every lookup after [`SLOW`].
struct Slow;

#[tonic::async_trait]
impl boost_test_proto::profiles_server::Profiles for Slow {
    async fn get_profile(
        &self,
        request: tonic::Request<boost_test_proto::GetProfileRequest>,
    ) -> Result<tonic::Response<boost_test_proto::Profile>, tonic::Status> {
        tokio::time::sleep(SLOW).await;
        Ok(tonic::Response::new(boost_test_proto::Profile {
            name: request.into_inner().name,
            language: "fr".to_owned(),
        }))
    }
}

/// A profile-service that refuses every lookup at once.
struct Refusing;

#[tonic::async_trait]
impl boost_test_proto::profiles_server::Profiles for Refusing {
    async fn get_profile(
        &self,
        _request: tonic::Request<boost_test_proto::GetProfileRequest>,
    ) -> Result<tonic::Response<boost_test_proto::Profile>, tonic::Status> {
        Err(tonic::Status::unavailable("refusing"))
    }
}

async fn serve<P: boost_test_proto::profiles_server::Profiles>(handler: P) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(boost_test_proto::profiles_server::ProfilesServer::new(
                handler,
            ))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

async fn query(prometheus: &Server, expr: &str) -> Vec<serde_json::Value> {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/query", prometheus.url))
        .query(&[("query", expr)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Every panel query of a generated dashboard.
fn dashboard_queries(dashboard: &str) -> Vec<String> {
    let dashboard: serde_json::Value = serde_json::from_str(dashboard).unwrap();
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|panel| panel["targets"].as_array())
        .flatten()
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect()
}

/// Greets distinct names on `service` until aborted, pausing `pause` between
/// calls.
fn traffic(
    service: &ServiceProcess,
    prefix: &'static str,
    pause: Duration,
) -> tokio::task::JoinHandle<()> {
    let url = service.grpc_url();
    tokio::spawn(async move {
        let mut client = boost_test_proto::greeter_client::GreeterClient::connect(url)
            .await
            .unwrap();
        // Bounded: the test aborts it long before.
        for i in 0..100_000u32 {
            let _ = say_hello(&mut client, &format!("{prefix}-{i}")).await;
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus and prometheus-alertmanager"]
async fn a_slow_upstream_pages_the_team_with_the_runbook_section_of_the_alert() {
    let slow_upstream = serve(Slow).await;
    let refusing = [serve(Refusing).await, serve(Refusing).await];
    // The kit's defaults everywhere (throttling and ejection on), but a
    // small cache, so distinct names evict entries.
    let slow = Launch::new(Example::Hello)
        .upstream(slow_upstream)
        .set("SERVICE__TEAM", TEAM)
        .set("PROFILE_CACHE__MAX_CAPACITY", "20")
        .start();
    // Retries always allowed: 1 a second instead of 10, so the few calls a
    // second of this test exhaust the budget, as a busy service's would.
    let failing = Launch::new(Example::Hello)
        .set(
            "PROFILES__ENDPOINTS",
            format!("http://{},http://{}", refusing[0], refusing[1]),
        )
        .set("PROFILES__RETRY__BUDGET_MIN_PER_SEC", "1")
        .set("SERVICE__TEAM", TEAM)
        .start();

    // What the binary generates, for the instance the alerts link to. The
    // windows a twentieth: the 1h window is 3m, the 5m one 15s (a few
    // scrapes, even on a loaded machine), `for` 6s.
    let admin_url = format!("http://{}", slow.admin);
    let rules = generate(
        &["--print-alert-rules", "--slo-time-scale", "1/20"],
        &admin_url,
    );
    assert!(rules.contains("# TEST ONLY"), "{rules}");
    let route = generate(&["--print-alertmanager-route"], &admin_url);
    let dashboard = generate(&["--print-dashboard"], &admin_url);

    let (webhook, received) = start_webhook().await;
    let alertmanager = start_alertmanager(&route, &webhook, &mut free_port).await;
    let prometheus =
        start_prometheus(&[slow.admin, failing.admin], &rules, &alertmanager.url).await;

    // Slow greetings: three callers, each call waiting ~270 ms for the
    // profile. Fast ones: the failing instance answers in English at once,
    // a dozen calls a second at most, well under the slow share the page
    // needs (14.4 % of calls over the 250 ms objective).
    let mut load = vec![
        traffic(&slow, "slow-a", Duration::ZERO),
        traffic(&slow, "slow-b", Duration::ZERO),
        traffic(&slow, "slow-c", Duration::ZERO),
        traffic(&failing, "refused", Duration::from_millis(100)),
    ];
    // A cached name (hits), an invalid one (a call not OK), an HTTP request.
    let url = slow.grpc_url();
    load.push(tokio::spawn(async move {
        let mut client = boost_test_proto::greeter_client::GreeterClient::connect(url)
            .await
            .unwrap();
        for _ in 0..100_000u32 {
            let _ = say_hello(&mut client, "ada").await;
            let _ = say_hello(&mut client, "").await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }));
    let (status, _) = http_get(&slow.http_url("/v1/hello/ada")).await;
    assert_eq!(status, 200);

    let deadline = Instant::now() + Duration::from_secs(240);
    let alert = loop {
        let page = received.lock().unwrap().iter().find_map(|notification| {
            notification["alerts"]
                .as_array()?
                .iter()
                .find(|a| a["labels"]["alertname"] == "LatencyFastBurn" && a["status"] == "firing")
                .cloned()
        });
        if let Some(alert) = page {
            break alert;
        }
        if Instant::now() > deadline {
            let firing = query(&prometheus, "ALERTS").await;
            let sli = query(&prometheus, "{__name__=~\"slo:sli_error:.*\"}").await;
            let up = query(&prometheus, "count_over_time(up[1m])").await;
            panic!(
                "no LatencyFastBurn page at the webhook within 240s\nALERTS: {firing:?}\nSLI: {sli:?}\nscrapes in the last minute: {up:?}\nreceived: {:?}\nslow: {}",
                received.lock().unwrap(),
                slow.dump()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(alert["labels"]["team"], TEAM, "{alert}");
    assert_eq!(alert["labels"]["severity"], "page", "{alert}");
    assert_eq!(alert["labels"]["service"], "hello-service", "{alert}");
    assert_eq!(alert["labels"]["slo"], "latency", "{alert}");
    let runbook_url = alert["annotations"]["runbook_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(runbook_url, format!("{admin_url}/runbook#latencyfastburn"));
    let description = alert["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains('%')
            && !description.contains("{{")
            && description.contains("budget is gone in")
            && !description.ends_with("gone in ."),
        "{description}"
    );
    let (page, anchor) = runbook_url.split_once('#').unwrap();
    let (status, runbook) = http_get(page).await;
    assert_eq!(status, 200);
    let section = runbook
        .split(&format!("<a id=\"{anchor}\"></a>\n## LatencyFastBurn"))
        .nth(1)
        .and_then(|rest| rest.split("<a id=").next())
        .unwrap_or_else(|| panic!("no section #{anchor}:\n{runbook}"));
    // What on-call may do about it: its own advice and the switch, with
    // the authenticated command.
    assert!(
        section.contains("**You may, without escalating:**")
            && section.contains("`profiles_upstream`")
            && section.contains("Authorization: Bearer"),
        "{section}"
    );

    // Every query of the generated dashboard returns data, except the HTTP
    // client ones: hello-service has no HTTP client (checked on both
    // instances' /metrics), so those panels are empty, and say so.
    for instance in [&slow, &failing] {
        let (_, metrics) = http_get(&instance.admin_url("/metrics")).await;
        assert!(
            !metrics.lines().any(|l| l.starts_with("http_client_")),
            "hello-service has an HTTP client now: drop the exception below\n{metrics}"
        );
    }
    let queries = dashboard_queries(&dashboard);
    assert!(
        queries.iter().any(|q| q.contains("http_client_")),
        "{dashboard}"
    );
    // Counters of what happened only now (evictions, ejections) may need a
    // few more scrapes.
    let deadline = Instant::now() + Duration::from_secs(60);
    let empty = loop {
        let mut empty = Vec::new();
        for expr in &queries {
            let data = !query(&prometheus, expr).await.is_empty();
            let absent_here = expr.contains("http_client_");
            if data == absent_here {
                empty.push(format!(
                    "{} {expr}",
                    if absent_here {
                        "data for"
                    } else {
                        "no data for"
                    }
                ));
            }
        }
        if empty.is_empty() || Instant::now() > deadline {
            break empty;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    for task in load {
        task.abort();
    }
    assert!(empty.is_empty(), "dashboard queries:\n{}", empty.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus-alertmanager"]
async fn a_server_whose_port_was_taken_meanwhile_starts_on_another() {
    // The race made certain: the first port handed out is held by another
    // listener by the time Alertmanager binds it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let mut handed = Vec::new();
    let mut next_port = || {
        let port = if handed.is_empty() {
            taken_port
        } else {
            free_port()
        };
        handed.push(port);
        port
    };
    let route = "route:\n  routes: []\nreceivers:\n";
    let alertmanager = start_alertmanager(route, "http://127.0.0.1:9/", &mut next_port).await;
    assert_ne!(
        alertmanager.url,
        format!("http://127.0.0.1:{taken_port}"),
        "started on the taken port"
    );
    assert!(handed.len() >= 2, "{handed:?}");
    drop(taken);
}

/// An alert as Alertmanager's API takes it: hello-service's labels plus `extra`.
fn alert(name: &str, extra: &[(&str, &str)]) -> serde_json::Value {
    let mut labels = serde_json::json!({
        "alertname": name,
        "service": "hello-service",
        "team": TEAM,
    });
    for (key, value) in extra {
        labels[*key] = serde_json::Value::from(*value);
    }
    serde_json::json!({ "labels": labels })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus-alertmanager"]
async fn the_generated_inhibition_rules_hold_back_only_the_lesser_alert_of_the_same_problem() {
    let route = generate(&["--print-alertmanager-route"], "http://127.0.0.1:9");
    let alertmanager = start_alertmanager(&route, "http://127.0.0.1:9/", &mut free_port).await;
    let availability = [("slo", "availability")];
    let cert = |subject| [("role", "grpc_server"), ("subject", subject)];
    // (alert, held back?)
    let cases = [
        (alert("AvailabilityFastBurn", &availability), false),
        (alert("AvailabilitySlowBurn", &availability), true),
        (alert("AvailabilitySteadyBurn", &availability), true),
        // Another objective: its own problem.
        (alert("LatencySlowBurn", &[("slo", "latency")]), false),
        (alert("CertificateExpiryImminent", &cert("CN=a")), false),
        (alert("CertificateExpiresSoon", &cert("CN=a")), true),
        // Another certificate.
        (alert("CertificateExpiresSoon", &cert("CN=b")), false),
        (alert("ServiceDown", &[]), false),
        (alert("TargetDown", &[("instance", "10.0.0.1:9090")]), true),
        // Another team's alert is never muted by this team's rules.
        (
            alert(
                "TargetDown",
                &[("instance", "10.0.0.2:9090"), ("team", "others")],
            ),
            false,
        ),
    ];
    let client = reqwest::Client::new();
    let posted: Vec<_> = cases.iter().map(|(a, _)| a.clone()).collect();
    let response = client
        .post(format!("{}/api/v2/alerts", alertmanager.url))
        .json(&posted)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");

    let key = |labels: &serde_json::Value| {
        format!(
            "{} {} {} {}",
            labels["alertname"], labels["subject"], labels["instance"], labels["team"]
        )
    };
    let expected: Vec<(String, bool)> = cases
        .iter()
        .map(|(a, held)| (key(&a["labels"]), *held))
        .collect();
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < Duration::from_secs(30) {
        let listed: Vec<serde_json::Value> = client
            .get(format!("{}/api/v2/alerts", alertmanager.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen = listed
            .iter()
            .map(|a| {
                let held = a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|by| !by.is_empty());
                (key(&a["labels"]), held)
            })
            .collect();
        seen.sort();
        let mut want = expected.clone();
        want.sort();
        if seen == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "alerts (name, subject, instance, team; held back?):\nseen {seen:#?}\nwanted {expected:#?}"
    );
}
