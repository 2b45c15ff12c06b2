//! The hand-off at its boundaries: partial acknowledgements, resends, overflow, backoff, saves.

use super::*;
use crate::drive::recorder::Recorder;
use crate::model::config::Config;
use crate::model::observation::Observation;
use std::sync::Arc;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const T: u64 = 1_747_162_000_000;

/// Every 404 flags its actor (one event per actor: the cooldown).
fn config(webhook: &str) -> Arc<Config> {
    let json = format!(
        r#"{{"rules": [{{"id": "4XX_FILTER", "threshold": 1}}], "webhook": {{"url": "https://siem.example.com/hook", "mode": "instant" {webhook}}}}}"#
    );
    Arc::new(Config::from_json_str(&json).unwrap())
}

/// A delta with one 404 from each of `ips` at `now`.
fn delta(cfg: &Arc<Config>, now: u64, ips: &[&str]) -> Vec<u8> {
    let mut rec = Recorder::new(Arc::clone(cfg));
    let headers: [(&str, &str); 0] = [];
    for ip in ips {
        rec.record(
            now,
            &Observation {
                method: "GET",
                path: "/scan",
                status: 404,
                peer: Some(ip),
                host: None,
                headers: &headers,
                country: None,
                threats: None,
            },
        );
    }
    rec.count_unmatched();
    rec.take_delta().unwrap()
}

fn actors(m: &Message) -> Vec<&str> {
    m.events.iter().map(|e| e.event.actor.as_str()).collect()
}

#[test]
fn a_delta_id_seen_twice_is_applied_once() {
    let cfg = config("");
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    let d = delta(&cfg, T, &["203.0.113.1"]);
    assert_eq!(s.apply_delta(T, Some("a"), &d), Applied::Counted(1));
    assert_eq!(s.apply_delta(T + 1, Some("a"), &d), Applied::Repeated);
    assert_eq!((s.metrics().matched, s.metrics().responses), (1, 2));
    // Without an id nothing tells a resend apart: it counts.
    let d2 = delta(&cfg, T, &["203.0.113.2"]);
    assert_eq!(s.apply_delta(T + 2, None, &d2), Applied::Counted(1));
    assert_eq!(s.apply_delta(T + 3, None, &d2), Applied::Counted(0));
    assert_eq!(s.metrics().matched, 3);
    // The memory is bounded: after REMEMBERED_IDS newer ids, the first is forgotten.
    let empty = {
        let mut rec = Recorder::new(Arc::clone(&cfg));
        rec.count_unmatched();
        rec.take_delta().unwrap()
    };
    for i in 1..REMEMBERED_IDS {
        s.apply_delta(T + 4, Some(&i.to_string()), &empty);
    }
    assert_eq!(s.apply_delta(T + 5, Some("a"), &d), Applied::Repeated);
    s.apply_delta(T + 6, Some("one more"), &empty);
    assert_eq!(s.apply_delta(T + 7, Some("a"), &d), Applied::Counted(0));
}

#[test]
fn a_malformed_delta_counts_up_to_its_first_bad_record() {
    let cfg = config("");
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    let mut d = delta(&cfg, T, &["203.0.113.1", "203.0.113.2"]);
    d.truncate(d.len() - 3);
    let Applied::Malformed(_, raised) = s.apply_delta(T, Some("x"), &d) else {
        panic!("a truncated delta is malformed");
    };
    assert_eq!(raised, 1);
    assert_eq!(s.metrics().deltas_rejected, 1);
    let (m, _) = s.poll_message(T, "shard-1").expect("its event goes");
    assert_eq!(actors(&m), ["203.0.113.1"]);
}

#[test]
fn an_acknowledgement_releases_only_the_events_its_message_carried() {
    let cfg = config("");
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1", "203.0.113.2"]));
    let (m1, r1) = s.poll_message(T, "shard-1").expect("new events go at once");
    assert_eq!(actors(&m1), ["203.0.113.1", "203.0.113.2"]);
    assert_eq!((m1.from.as_str(), r1.events()), ("shard-1", 2));
    assert_eq!(s.poll_message(T, "shard-1"), None, "nothing new");
    // An event raised while m1 is on its way goes in a message of its own.
    s.apply_delta(T + 10, None, &delta(&cfg, T + 10, &["203.0.113.3"]));
    s.acknowledged(&r1);
    let (m2, r2) = s.poll_message(T + 20, "shard-1").expect("the new event");
    assert_eq!(actors(&m2), ["203.0.113.3"]);
    s.acknowledged(&r2);
    assert_eq!(s.poll_message(T + 30, "shard-1"), None);
    assert_eq!(s.metrics().events_dropped, 0);
}

#[test]
fn a_lost_answer_sends_the_same_events_again_and_the_receiver_queues_them_once() {
    let cfg = config("");
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    let mut r = Receiver::new(Arc::clone(&cfg), 2);
    s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
    let (m1, r1) = s.poll_message(T, "shard-1").unwrap();
    // The receiver takes it; the answer is lost.
    let fresh = r.unknown(m1.events.clone());
    assert_eq!(r.queue(T, fresh), 1);
    s.failed(T);
    let again = s.retry_at();
    assert_eq!(s.next_wakeup().map(|t| t.min(again)), Some(again));
    assert_eq!(s.poll_message(again - 1, "shard-1"), None, "backing off");
    let (m2, r2) = s.poll_message(again, "shard-1").expect("sent again");
    assert_eq!(m2.events, m1.events, "the same events, the same refIds");
    assert_eq!(r.unknown(m2.events.clone()), vec![], "held already");
    s.acknowledged(&r2);
    assert_eq!(s.failures(), 0);
    // The receiver delivers it; a late resend (a sender that missed the answer again) is
    // not queued a second time.
    let d = r.poll_delivery(T + 1).expect("instant mode");
    assert_eq!(d.events, 1);
    r.delivery_status(&d, 200, T + 2);
    assert!(r.is_idle());
    assert_eq!(r.unknown(m1.events.clone()), vec![], "delivered lately");
    assert_eq!(r.queue(T + 3, m1.events.clone()), 0);
    s.acknowledged(&r1);
    assert_eq!(s.poll_message(T + 4, "shard-1"), None);
    // Within one message, an event twice is one.
    let twice = vec![m1.events[0].clone(), m1.events[0].clone()];
    let other = Receiver::new(Arc::clone(&cfg), 3);
    assert_eq!(other.unknown(twice).len(), 1);
}

#[test]
fn a_full_sender_drops_its_oldest_events_and_counts_them() {
    let cfg = config(r#", "queue_capacity": 3"#);
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    let ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
    assert_eq!(
        s.apply_delta(T, None, &delta(&cfg, T, &ips)),
        Applied::Counted(5)
    );
    assert_eq!(s.metrics().events_dropped, 2);
    assert_eq!(s.metrics().events_raised, 5);
    let (m, _) = s.poll_message(T, "shard-1").unwrap();
    assert_eq!(actors(&m), ["10.0.0.3", "10.0.0.4", "10.0.0.5"]);
    assert_eq!(m.report.unwrap().metrics.events_dropped, 2);
    assert_eq!(
        s.metrics().events_queued,
        0,
        "held events are the receiver's to count"
    );
}

#[test]
fn after_a_failure_the_wait_doubles_from_half_a_second_to_five_minutes() {
    let cfg = config("");
    let mut s = Sender::new(Arc::clone(&cfg), 7);
    s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
    let mut now = T;
    for n in 1..=12u32 {
        assert!(
            s.poll_message(now, "shard-1").is_some(),
            "due after the wait"
        );
        s.failed(now);
        assert_eq!(s.failures(), n);
        let exp = (1_000u64 << (n - 1)).min(300_000);
        let wait = s.retry_at() - now;
        assert!(wait >= exp / 2 && wait <= exp, "failure {n}: {wait} ms");
        assert_eq!(s.poll_message(s.retry_at() - 1, "shard-1"), None);
        now = s.retry_at();
    }
    let (_, receipt) = s.poll_message(now, "shard-1").unwrap();
    s.acknowledged(&receipt);
    assert_eq!(s.failures(), 0);
    // The next failure starts from the first wait again.
    s.apply_delta(now, None, &delta(&cfg, now, &["203.0.113.2"]));
    s.poll_message(now, "shard-1").unwrap();
    s.failed(now);
    assert!(s.retry_at() - now <= 1_000);
}

#[test]
fn the_save_is_due_exactly_a_second_after_the_first_change() {
    let cfg = config("");
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    assert_eq!((s.next_wakeup(), s.poll_save(T + 5_000)), (None, None));
    s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
    let (_, receipt) = s.poll_message(T, "shard-1").unwrap();
    s.acknowledged(&receipt);
    // A later change does not postpone it.
    s.apply_delta(T + 500, None, &delta(&cfg, T + 500, &[]));
    assert_eq!(s.next_wakeup(), Some(T + SAVE_AFTER_MS));
    assert_eq!(s.metrics().state_unsaved, 1);
    // Counters alone do not make a message before the save.
    assert_eq!(s.poll_message(T + 500, "shard-1"), None);
    assert_eq!(s.poll_save(T + SAVE_AFTER_MS - 1), None);
    let save = s.poll_save(T + SAVE_AFTER_MS).expect("due");
    assert_eq!(save.totals.state_saves, 1);
    assert_eq!(save.totals.matched, 1);
    assert_eq!(save.totals.state_unsaved, 0, "gauges are not saved");
    // A failed write is due again, from the first change.
    s.saved(&save, false);
    assert_eq!(s.next_wakeup(), Some(T + SAVE_AFTER_MS));
    let save = s.poll_save(T + 1_200).unwrap();
    s.saved(&save, true);
    assert_eq!((s.metrics().state_saves, s.metrics().state_unsaved), (1, 0));
    assert_eq!(s.next_wakeup(), None);
    // Once saved, the counters go alone; then nothing is owed.
    let (m, receipt) = s.poll_message(T + 1_200, "shard-1").expect("the report");
    assert!(m.events.is_empty() && m.blocks.is_none());
    assert_eq!(m.report.as_ref().map(|r| r.metrics.state_saves), Some(1));
    s.acknowledged(&receipt);
    assert_eq!(s.poll_message(T + 1_300, "shard-1"), None);
}

#[test]
fn held_events_are_in_storage_from_a_failure_until_an_acknowledgement() {
    let cfg = config("");
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
    let (_, _lost) = s.poll_message(T, "shard-1").unwrap();
    assert_eq!(s.poll_persist(), None, "no failure yet: memory is enough");
    s.failed(T);
    let write = s.poll_persist().expect("held events to storage");
    let Persist::Write { bytes, .. } = &write else {
        panic!("{write:?}");
    };
    let stored = bytes.clone();
    s.persisted(&write);
    assert_eq!(s.poll_persist(), None);
    // A new event while the receiver fails: written again with it.
    s.apply_delta(T + 10, None, &delta(&cfg, T + 10, &["203.0.113.2"]));
    let write = s.poll_persist().expect("rewritten");
    s.persisted(&write);

    // A successor (the object went away) restores them and sends them at once.
    let mut next = Sender::new(Arc::clone(&cfg), 2);
    assert_eq!(next.restore_held(T + 50, &stored).unwrap(), 1);
    assert_eq!(next.poll_persist(), None, "storage holds them already");
    let (m, receipt) = next.poll_message(T + 50, "shard-1").expect("sent at once");
    assert_eq!(actors(&m), ["203.0.113.1"]);
    next.acknowledged(&receipt);
    assert_eq!(next.poll_persist(), Some(Persist::Delete));
    next.persisted(&Persist::Delete);
    assert_eq!(next.poll_persist(), None);
    // Bytes that are no list of events are deleted.
    let mut broken = Sender::new(Arc::clone(&cfg), 3);
    assert!(broken.restore_held(T, b"{").is_err());
    assert_eq!(broken.poll_persist(), Some(Persist::Delete));
}

#[test]
fn state_and_totals_survive_a_restart_and_a_new_configuration() {
    let cfg = Arc::new(
        Config::from_json_str(
            r#"{"rules": [{"id": "4XX_FILTER", "threshold": 2}], "webhook": {"url": "https://siem.example.com/hook"}}"#,
        )
        .unwrap(),
    );
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
    let save = s.poll_save(T + SAVE_AFTER_MS).unwrap();
    s.saved(&save, true);
    // A new object: one more response flags the actor at threshold - 1.
    let mut next = Sender::new(Arc::clone(&cfg), 2);
    assert_eq!(next.restore(&save.state, &save.totals), Ok(1));
    let t = T + 2_000;
    assert_eq!(
        next.apply_delta(t, None, &delta(&cfg, t, &["203.0.113.1"])),
        Applied::Counted(1)
    );
    let m = next.metrics();
    assert_eq!((m.matched, m.state_saves, m.events_raised), (2, 1, 1));
    // A new configuration of the same rules counts on, with the held event and the totals.
    let same = Arc::new(Config::clone(&cfg));
    assert_eq!(next.reconfigure(same, t + 1), Ok(1));
    let m = next.metrics();
    assert_eq!((m.matched, m.events_raised, m.actors_tracked), (2, 1, 1));
    let (msg, _) = next.poll_message(t + 1, "shard-1").unwrap();
    assert_eq!(actors(&msg), ["203.0.113.1"]);
    // Other rules refuse the state; the totals still count.
    assert!(next.reconfigure(config(""), t + 2).is_err());
    let m = next.metrics();
    assert_eq!((m.matched, m.actors_tracked), (2, 0));
}

#[test]
fn blocks_go_to_the_receiver_until_acknowledged() {
    let cfg = Arc::new(
        Config::from_json_str(
            r#"{"rules": [{"id": "4XX_FILTER", "threshold": 1, "action": "block", "block_secs": 60, "block_status": 429}], "webhook": {"url": "https://siem.example.com/hook"}}"#,
        )
        .unwrap(),
    );
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    let mut r = Receiver::new(Arc::clone(&cfg), 2);
    s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.9"]));
    let (m, receipt) = s.poll_message(T, "shard-1").unwrap();
    r.merge_blocks(m.blocks.as_deref().expect("the new block"));
    s.acknowledged(&receipt);
    let key = cfg
        .actor
        .resolve(Some("203.0.113.9"), &Vec::<(String, String)>::new())
        .unwrap()
        .key;
    let block = r.blocklist().get(T + 1, &key).expect("merged");
    assert_eq!(block.reply(T + 1).retry_after_secs, Some(60));
    // Published: the next message for a new event carries no blocks.
    s.apply_delta(T + 5, None, &delta(&cfg, T + 5, &[]));
    assert_eq!(s.poll_message(T + 5, "shard-1"), None);
    // Expired blocks are pruned on the receiver's next round.
    r.poll_delivery(T + 61_000);
    assert!(r.blocklist().is_empty());
}

#[test]
fn the_receiver_keeps_each_senders_latest_report_and_totals_them() {
    let cfg = config("");
    let mut r = Receiver::new(Arc::clone(&cfg), 2);
    let report = |at_ms, seq, matched| Report {
        at_ms,
        seq,
        metrics: Metrics {
            matched,
            ..Metrics::default()
        },
    };
    assert!(r.keep_report("shard-1", report(T, 1, 5)));
    assert!(!r.keep_report("shard-1", report(T, 1, 4)), "not newer");
    assert!(
        !r.keep_report("shard-1", report(T - 1, 9, 3)),
        "older, arriving late"
    );
    assert!(r.keep_report("shard-1", report(T, 2, 6)));
    assert!(r.keep_report("shard-2", report(T - 5, 1, 1)));
    assert_eq!(r.total().matched, 7);
    assert_eq!(r.reports().len(), 2);
    // Totals survive the object and a new configuration; gauges do not.
    assert_eq!(r.totals_to_save(), None, "nothing counted yet");
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
    let (m, _) = s.poll_message(T, "shard-1").unwrap();
    r.queue(T, r.unknown(m.events.clone()));
    let d = r.poll_delivery(T).unwrap();
    r.delivery_status(&d, 200, T + 1);
    let totals = r.totals_to_save().expect("changed");
    assert_eq!(
        (totals.events_delivered, totals.deliveries_succeeded),
        (1, 1)
    );
    r.totals_saved(totals);
    assert_eq!(r.totals_to_save(), None);
    let mut next = Receiver::new(Arc::clone(&cfg), 3);
    next.restore_totals(&totals);
    assert_eq!(next.metrics().events_delivered, 1);
    let mut newer = Receiver::new(config(r#", "batch_size": 5"#), 4);
    newer.take_over(r);
    assert_eq!(newer.metrics().events_delivered, 1);
    assert_eq!(newer.total().matched, 7, "the reports carry over");
    assert_eq!(
        newer.unknown(m.events),
        vec![],
        "as do the refIds delivered"
    );
}

#[test]
fn messages_and_reports_read_back_what_was_written() {
    let cfg = config("");
    let mut s = Sender::new(Arc::clone(&cfg), 1);
    s.apply_delta(T, None, &delta(&cfg, T, &["203.0.113.1"]));
    let (m, _) = s.poll_message(T, "shard-3").unwrap();
    let text = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), m);
    // A report as stored before Metrics had these fields reads with the others 0.
    let r: Report =
        serde_json::from_str(r#"{"at_ms": 5, "seq": 2, "counters": {"matched": 3, "gone": 1}}"#)
            .unwrap();
    assert_eq!((r.metrics.matched, r.metrics.responses), (3, 0));
}
