//! Operating actorwatch with Prometheus and a SIEM: a real Prometheus scrapes a real Envoy
//! running the filter; its metric names and labels pass `promtool check metrics`; the shipped
//! alert rules fire on real attack traffic and reach a real Alertmanager, which the filter's
//! `alertmanager` sink also pushes the events to; the OCSF sink's findings validate against
//! the OCSF schema; a failing sink retries on its own; every query of the shipped Grafana
//! dashboard returns data.

mod common;

use actorwatch_e2e::monitoring::*;
use actorwatch_e2e::*;
use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// Alerts fire within a few evaluations (one a second) of the counters moving.
const ALERT_WAIT: Duration = Duration::from_secs(60);

const HEC_TOKEN: &str = "e2e-hec-t0ken-5d1f";

/// A scanner flagged at 5 404s in a minute, and SQL injection as a threat rule; Akto's webhook
/// and three further sinks.
fn config() -> String {
    format!(
        r#"{{"rules": [{{"id": "4XX_FILTER", "statuses": ["400-499"], "threshold": 5, "window_secs": 60,
                        "cooldown_secs": 600, "action": "alert"}}],
            "actor": {{"sources": ["xff", "peer"]}},
            "threat_rules": [{{"id": "SQLInjection"}}],
            "webhook": {{"url": "http://webhook.test/akto", "hmac_secret": "{SECRET}", "mode": "instant"}},
            "sinks": [
              {{"format": "ocsf", "url": "http://lake.test/ocsf", "mode": "instant"}},
              {{"format": "splunk_hec", "url": "http://splunk.test/services/collector/event",
                "token": "{HEC_TOKEN}", "mode": "instant"}},
              {{"format": "alertmanager", "url": "http://alertmanager.test/api/v2/alerts", "mode": "instant"}}
            ]}}"#
    )
}

/// A per-sink metric of sink `sink` in Envoy's stats (`metric_stat` names `akto`'s).
fn sink_metric(envoy: &Envoy, name: &str, sink: &str) -> u64 {
    envoy.stat(&metric_stat(name).replace(".sink.akto", &format!(".sink.{sink}")))
}

/// Runs the OCSF validator (`make setup-ocsf`) over `findings`; its output when it refuses.
fn ocsf_problems(dir: &std::path::Path, findings: &[Value]) -> Option<String> {
    let path = dir.join("findings.json");
    std::fs::write(&path, serde_json::to_vec(findings).unwrap()).unwrap();
    let python = repo().join(".tools/ocsf-venv/bin/python");
    let out = Command::new(&python)
        .arg(repo().join("tests/ocsf/validate_ocsf.py"))
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{} (`make setup-ocsf`): {e}", python.display()));
    (!out.status.success()).then(|| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn alert_names(alerts: &[Value], state: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = alerts
        .iter()
        .filter(|a| state.is_none_or(|s| a["state"] == s))
        .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn prometheus_scrapes_conventional_metrics_and_real_attacks_fire_the_shipped_alerts() {
    let dir = scratch_dir("observability");
    let api = SampleApi::start();
    let rx = Receiver::start(0);
    let lake = Receiver::start(0);
    // The SIEM fails the first two POSTs: only its sink retries.
    let splunk = Receiver::start(2);
    let alertmanager = Alertmanager::start(&dir.join("alertmanager"));
    let mut setup = EnvoySetup::new(&config(), api.port, rx.port);
    setup.clusters = vec![
        ("actorwatch_sink_ocsf".into(), lake.port),
        ("actorwatch_sink_splunk_hec".into(), splunk.port),
        (
            "actorwatch_sink_alertmanager".into(),
            alertmanager.addr.port(),
        ),
    ];
    let envoy = start(&setup);
    let prometheus = Prometheus::start(&dir.join("prometheus"), envoy.admin, alertmanager.addr);

    // Every metric is there from the start, at 0: rates and increases work from the first
    // scrape, and nothing fires on a quiet proxy.
    let scraped = |promql: &str| {
        wait_for(Duration::from_secs(30), || {
            Some(prometheus.query(promql)).filter(|r| !r.is_empty())
        })
        .unwrap_or_else(|| panic!("no data for {promql}:\n{}", prometheus.log()))
    };
    let up = scraped("up{job=\"envoy\"}");
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    scraped("actorwatch_events_raised_total == 0");
    assert_eq!(
        alert_names(&prometheus.alerts(), None),
        Vec::<String>::new(),
        "no alert before any attack"
    );

    // The names and labels pass promtool's lint, and none is per actor.
    let (_, body) = http(envoy.admin, "GET", "/stats/prometheus", &[], b"").unwrap();
    let exposition = String::from_utf8_lossy(&body).to_string();
    let prefix = match host() {
        Host::Wasm => "actorwatch_",
        Host::Native => "envoy_actorwatch_",
    };
    let ours = families(&exposition, prefix);
    let type_lines = ours.lines().filter(|l| l.starts_with("# TYPE")).count();
    // Every metric of the core is one family, the per-rule ones (3 for each threat rule) 3
    // labeled families, and the filters' events one more.
    let per_rule = actorwatch_core::Metrics::default()
        .fields()
        .iter()
        .filter(|f| f.per_rule().is_some())
        .count();
    assert_eq!(per_rule, 3 * 15);
    let expected =
        actorwatch_core::Metrics::COUNT - per_rule + 3 + 1 + usize::from(host() == Host::Native);
    assert_eq!(type_lines, expected, "{ours}");
    // promtool's only complaint is that Envoy writes no `# HELP` lines (it has none for any
    // extension's stats); one per family shows it read them all.
    let complaints = promtool_check_metrics(&ours);
    let (no_help, other): (Vec<&str>, Vec<&str>) = complaints
        .lines()
        .partition(|l| l.ends_with(" no help text"));
    assert_eq!(other, Vec::<&str>::new(), "{ours}");
    assert_eq!(no_help.len(), expected, "{complaints}");
    let mut sinks_labeled = std::collections::BTreeSet::new();
    for line in ours.lines().filter(|l| !l.starts_with('#')) {
        // Envoy writes `{}` after a series without labels.
        if let Some((_, labels)) = line.split_once('{').filter(|(_, l)| !l.starts_with('}')) {
            assert!(
                ["rule=\"", "sink=\"", "filter_id=\""]
                    .iter()
                    .any(|l| labels.starts_with(l)),
                "{line}"
            );
            if let Some(sink) = labels.strip_prefix("sink=\"") {
                sinks_labeled.insert(sink.split('"').next().unwrap_or("").to_string());
            }
        }
    }
    assert_eq!(
        sinks_labeled.into_iter().collect::<Vec<_>>(),
        ["akto", "alertmanager", "ocsf", "splunk_hec"]
    );

    // A scanner: 5 404s from one actor (4 would not be flagged), and one SQL injection.
    let mut c = envoy.client();
    for i in 0..5 {
        let status = c
            .request(
                "GET",
                &format!("/missing/{i}"),
                &[("x-forwarded-for", "203.0.113.50")],
                b"",
            )
            .map_or(0, |r| r.0);
        assert_eq!(status, 404);
    }
    c.request(
        "GET",
        "/api/orders?id=1%27%20OR%201%3D1--",
        &[("x-forwarded-for", "203.0.113.51")],
        b"",
    )
    .unwrap();
    wait_for(WAIT, || (rx.events().len() >= 2).then_some(()))
        .unwrap_or_else(|| panic!("two events, got {:?}", rx.events()));

    // Prometheus fires the rules, and Alertmanager holds what it sent.
    let fired = ["ActorwatchActorFlagged", "ActorwatchThreatDetected"];
    let firing = wait_for(ALERT_WAIT, || {
        let names = alert_names(&prometheus.alerts(), Some("firing"));
        fired
            .iter()
            .all(|f| names.iter().any(|n| n == f))
            .then_some(names)
    })
    .unwrap_or_else(|| panic!("alerts: {:?}\n{}", prometheus.alerts(), prometheus.log()));
    assert!(
        !firing
            .iter()
            .any(|n| n.contains("Dropped") || n.contains("Fail")),
        "{firing:?}"
    );
    let received = wait_for(ALERT_WAIT, || {
        let alerts = alertmanager.alerts();
        fired
            .iter()
            .all(|f| alert_names(&alerts, None).iter().any(|n| n == f))
            .then_some(alerts)
    })
    .unwrap_or_else(|| {
        panic!(
            "Alertmanager has {:?}\n{}",
            alertmanager.alerts(),
            alertmanager.log()
        )
    });
    let threat = received
        .iter()
        .find(|a| a["labels"]["alertname"] == "ActorwatchThreatDetected")
        .unwrap();
    assert_eq!(threat["labels"]["rule"], "sql_injection", "{threat}");

    // The alertmanager sink pushed each event as an alert of its own: rule and actor.
    let pushed = wait_for(WAIT, || {
        let pushed: Vec<Value> = alertmanager
            .alerts()
            .into_iter()
            .filter(|a| a["labels"]["alertname"] == "ActorwatchEvent")
            .collect();
        (pushed.len() >= 2).then_some(pushed)
    })
    .unwrap_or_else(|| panic!("pushed alerts: {:?}", alertmanager.alerts()));
    let mut identities: Vec<(String, String, String)> = pushed
        .iter()
        .map(|a| {
            let label = |k: &str| a["labels"][k].as_str().unwrap_or("").to_string();
            (label("rule"), label("actor"), label("mitre_technique"))
        })
        .collect();
    identities.sort();
    assert_eq!(
        identities,
        [
            (
                "4XX_FILTER".into(),
                "203.0.113.50".into(),
                "T1595.003".into()
            ),
            ("SQLInjection".into(), "203.0.113.51".into(), "T1190".into()),
        ]
    );
    assert!(pushed.iter().all(|a| a["status"]["state"] == "active"));

    // The OCSF sink's findings validate against the OCSF schema.
    let findings: Vec<Value> = wait_for(WAIT, || {
        let findings: Vec<Value> = lake
            .accepted()
            .iter()
            .flat_map(|post| post.json().as_array().cloned().unwrap_or_default())
            .collect();
        (findings.len() >= 2).then_some(findings)
    })
    .unwrap_or_else(|| panic!("OCSF posts: {:?}", lake.all()));
    assert_eq!(findings.len(), 2);
    assert_eq!(ocsf_problems(&dir, &findings), None);
    let mut refused = findings[0].clone();
    refused["severity_id"] = Value::from("High");
    assert!(
        ocsf_problems(&dir, &[refused]).is_some(),
        "the validator refuses a broken finding"
    );

    // The SIEM failed twice: its sink retried, the others never failed; all delivered once.
    let envelopes = wait_for(WAIT, || {
        let envelopes: Vec<Value> = splunk
            .accepted()
            .iter()
            .flat_map(|post| {
                let text = String::from_utf8_lossy(&post.body).to_string();
                serde_json::Deserializer::from_str(&text)
                    .into_iter::<Value>()
                    .filter_map(Result::ok)
                    .collect::<Vec<_>>()
            })
            .collect();
        (envelopes.len() >= 2).then_some(envelopes)
    })
    .unwrap_or_else(|| panic!("Splunk posts: {:?}", splunk.all()));
    assert_eq!(envelopes.len(), 2);
    assert!(splunk
        .all()
        .iter()
        .all(|post| post.header("authorization") == Some(&format!("Splunk {HEC_TOKEN}"))));
    wait_for(WAIT, || {
        (sink_metric(&envoy, "deliveries_succeeded", "splunk_hec") == 2).then_some(())
    })
    .unwrap_or_else(|| panic!("{:?}", envoy.stats()));
    assert_eq!(sink_metric(&envoy, "deliveries_failed", "splunk_hec"), 2);
    assert_eq!(sink_metric(&envoy, "deliveries_retried", "splunk_hec"), 2);
    for sink in ["akto", "ocsf", "alertmanager"] {
        assert_eq!(sink_metric(&envoy, "deliveries_failed", sink), 0, "{sink}");
        assert_eq!(sink_metric(&envoy, "events_delivered", sink), 2, "{sink}");
    }
    assert_eq!(rx.events().len(), 2);

    // Each filter's events, labeled by its filterId, as Prometheus sees them.
    for filter_id in ["4XX_FILTER", "SQLInjection"] {
        // Scraped names are the same from both hosts (the scrape strips `envoy_`).
        let query = format!("actorwatch_filter_events_total{{filter_id=\"{filter_id}\"}}");
        let result = wait_for(WAIT, || {
            Some(prometheus.query(&query))
                .filter(|r| r.first().is_some_and(|s| s["value"][1] == "1"))
        });
        assert!(result.is_some(), "{query}: {:?}", prometheus.query(&query));
    }

    // Every query of the shipped dashboard returns data from this Prometheus.
    let check = Command::new("python3")
        .arg(repo().join("observability/check_dashboard.py"))
        .args(["--prometheus", &prometheus.url(), "--dashboard"])
        .arg(dashboard_file())
        .output()
        .expect("python3");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
