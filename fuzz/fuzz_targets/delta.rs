//! The binary formats that cross VMs and Durable Objects: worker deltas, blocklist snapshots
//! and counting-state snapshots. Any bytes are rejected or applied without panicking; what a recorder writes reads
//! back record for record.
#![no_main]

use actorwatch_core::internals::DeltaReader;
use actorwatch_core::{Blocklist, Config, Engine, Observation, Recorder};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

#[derive(Debug, Arbitrary)]
struct Response {
    dt_ms: u16,
    status: u16,
    peer: u8,
    path: String,
    header: Option<(String, String)>,
}

#[derive(Debug, Arbitrary)]
enum Input {
    Bytes(Vec<u8>),
    Recorded(Vec<Response>),
}

const CONFIG: &str = r#"{"rules": [{"id": "A", "threshold": 3}, {"id": "B", "threshold": 2, "per": "actor_api", "action": "block"}],
 "samples_per_event": 2, "webhook": {"url": "https://siem.example.com/akto"}}"#;

fuzz_target!(|input: Input| {
    let Ok(cfg) = Config::from_json_str(CONFIG) else {
        return;
    };
    let cfg = Arc::new(cfg);
    let mut engine = Engine::with_shared_config(Arc::clone(&cfg), 7);
    match input {
        Input::Bytes(bytes) => {
            let _ = engine.apply_delta(1_000, &bytes);
            if let Ok(mut reader) = DeltaReader::new(&bytes) {
                while let Some(Ok(_)) = reader.next_record() {}
            }
            if let Ok(list) = Blocklist::decode(&bytes, 3) {
                let again = Blocklist::decode(&list.encode(0), 3).map(|l| l.len());
                assert_eq!(again.ok(), Some(list.len()));
            }
            engine.advance(10_000);
            let _ = Engine::with_shared_config(Arc::clone(&cfg), 5).import_state(&bytes);
        }
        Input::Recorded(responses) => {
            let mut recorder = Recorder::new(Arc::clone(&cfg));
            let mut now = 1_747_162_000_000u64;
            let mut recorded = 0u64;
            for r in responses.iter().take(200) {
                now += u64::from(r.dt_ms);
                let peer = format!("192.0.2.{}", r.peer);
                let headers: Vec<(&str, &str)> = r
                    .header
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let obs = Observation {
                    method: "GET",
                    path: &r.path,
                    status: r.status,
                    peer: Some(&peer),
                    host: None,
                    headers: &headers,
                    country: None,
                    threats: None,
                };
                if recorder.record(now, &obs) && (400..500).contains(&r.status) {
                    recorded += 1;
                }
            }
            let Some(delta) = recorder.take_delta() else {
                assert_eq!(recorded, 0);
                return;
            };
            let mut reader = DeltaReader::new(&delta).expect("a recorder's delta reads back");
            let mut read = 0u64;
            while let Some(rec) = reader.next_record() {
                rec.expect("every record reads back");
                read += 1;
            }
            assert_eq!(read, recorded);
            assert!(engine.apply_delta(now, &delta).is_ok());
            assert_eq!(engine.metrics().matched, recorded);
            engine.advance(now + 60_000);
            // The counting state survives a snapshot.
            let mut restored = Engine::with_shared_config(Arc::clone(&cfg), 9);
            let keys = restored.import_state(&engine.export_state(now));
            assert_eq!(keys.ok(), Some(engine.metrics().actors_tracked as usize));
        }
    }
});
