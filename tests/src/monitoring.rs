//! A real Prometheus and a real Alertmanager (Debian's `prometheus` and
//! `prometheus-alertmanager`, `make setup-observability`), each on a loopback ephemeral port with
//! its data in a scratch directory, stopped by its PID when dropped.

use crate::{free_port, http, repo, wait_for};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a server has to answer after it starts.
const START: Duration = Duration::from_secs(30);

/// The shipped alert rules (`observability/prometheus/actorwatch-rules.yml`).
pub fn rules_file() -> PathBuf {
    repo().join("observability/prometheus/actorwatch-rules.yml")
}

/// The shipped Grafana dashboard.
pub fn dashboard_file() -> PathBuf {
    repo().join("observability/grafana/actorwatch-dashboard.json")
}

/// A server process of the test's own, killed by its PID when dropped.
struct Process {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> Process {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} (`make setup-observability`): {e}"));
        Process { child, name, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `path` answers 200 on `addr`, or panics with the server's log.
    fn wait_ready(&mut self, addr: SocketAddr, path: &str) {
        let ready = wait_for(START, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.name, self.log());
            }
            http(addr, "GET", path, &[], b"")
                .ok()
                .filter(|(status, _)| *status == 200)
        });
        assert!(
            ready.is_some(),
            "{} did not answer on {addr}:\n{}",
            self.name,
            self.log()
        );
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

pub struct Alertmanager {
    process: Process,
    pub addr: SocketAddr,
}

impl Alertmanager {
    /// One receiver that only keeps what it gets: the test reads `/api/v2/alerts`.
    pub fn start(dir: &Path) -> Alertmanager {
        std::fs::create_dir_all(dir).expect("alertmanager dir");
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            "route: {receiver: keep, group_wait: 1s, group_interval: 1s}\nreceivers: [{name: keep}]\n",
        )
        .expect("alertmanager config");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let mut process = Process::spawn(
            "prometheus-alertmanager",
            Command::new("prometheus-alertmanager")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.path={}", dir.join("data").display()))
                .arg(format!("--web.listen-address={addr}"))
                // No cluster: it would listen on every address.
                .arg("--cluster.listen-address="),
            dir.join("alertmanager.log"),
        );
        process.wait_ready(addr, "/-/ready");
        Alertmanager { process, addr }
    }

    /// The alerts it holds (API v2).
    pub fn alerts(&self) -> Vec<Value> {
        http(self.addr, "GET", "/api/v2/alerts", &[], b"")
            .ok()
            .and_then(|(_, body)| serde_json::from_slice::<Vec<Value>>(&body).ok())
            .unwrap_or_default()
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

pub struct Prometheus {
    process: Process,
    pub addr: SocketAddr,
}

impl Prometheus {
    /// Scrapes Envoy's admin `/stats/prometheus` every second and evaluates the shipped rules
    /// every second, sending alerts to `alertmanager`. The native module's names carry Envoy's
    /// `envoy_` prefix: the relabeling the shipped scrape configuration has strips it.
    pub fn start(dir: &Path, envoy_admin: SocketAddr, alertmanager: SocketAddr) -> Prometheus {
        std::fs::create_dir_all(dir).expect("prometheus dir");
        let config = dir.join("prometheus.yml");
        let yaml = format!(
            r#"global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{rules}"]
alerting:
  alertmanagers: [{{static_configs: [{{targets: ["{alertmanager}"]}}]}}]
scrape_configs:
- job_name: envoy
  metrics_path: /stats/prometheus
  static_configs: [{{targets: ["{envoy_admin}"]}}]
  metric_relabel_configs:
  - {{source_labels: [__name__], regex: "envoy_(actorwatch_.*)", target_label: __name__, replacement: "$1"}}
"#,
            rules = rules_file().display(),
        );
        std::fs::write(&config, yaml).expect("prometheus config");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let mut process = Process::spawn(
            "prometheus",
            Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}")),
            dir.join("prometheus.log"),
        );
        process.wait_ready(addr, "/-/ready");
        Prometheus { process, addr }
    }

    /// An instant query's result vector (empty on an error).
    pub fn query(&self, promql: &str) -> Vec<Value> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        http(self.addr, "GET", &path, &[], b"")
            .ok()
            .and_then(|(_, body)| serde_json::from_slice::<Value>(&body).ok())
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }

    /// The alerts its rules hold now, firing or pending.
    pub fn alerts(&self) -> Vec<Value> {
        http(self.addr, "GET", "/api/v1/alerts", &[], b"")
            .ok()
            .and_then(|(_, body)| serde_json::from_slice::<Value>(&body).ok())
            .and_then(|v| v["data"]["alerts"].as_array().cloned())
            .unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// `promtool check metrics` over an exposition: its complaints, a line each (empty when it
/// passes).
pub fn promtool_check_metrics(exposition: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (`make setup-observability`)");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(exposition.as_bytes());
    }
    let out = child.wait_with_output().expect("promtool");
    if out.status.success() {
        String::new()
    } else {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

/// The families of an exposition whose names start with `prefix`: their `# HELP`, `# TYPE` and
/// sample lines, as `promtool` reads them.
pub fn families(exposition: &str, prefix: &str) -> String {
    exposition
        .lines()
        .filter(|l| {
            let name = l
                .strip_prefix("# TYPE ")
                .or_else(|| l.strip_prefix("# HELP "))
                .unwrap_or(l);
            name.starts_with(prefix)
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
