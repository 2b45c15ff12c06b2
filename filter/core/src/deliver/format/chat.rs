//! Messages people read: a Slack incoming webhook (Block Kit) and a Microsoft Teams workflow
//! webhook (an Adaptive Card). The request's method, path and actor come from the attacker:
//! every character either renders as markup in is percent-encoded, so no event can post a link,
//! a mention or formatting into the channel.

use super::{cut, severity, summary, Batch};
use serde_json::{json, Value};

/// Events listed one by one; the rest of a larger batch are counted. Slack allows 50 blocks,
/// and a Teams card about 28 KB.
const LISTED: usize = 20;

/// `s` with every character Slack's mrkdwn or Teams' Markdown would read as markup
/// percent-encoded (`<`, `>`, `&`, `*`, `_`, `~`, `` ` ``, `[`, `]`, `(`, `)`, `|`, `!`, `#`,
/// `\`), and control characters.
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "<>&*_~`[]()|!#\\".contains(c) || c.is_control() {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The batch's headline: `actorwatch: 3 events of SQLInjection (HIGH)`.
fn headline(b: &Batch) -> String {
    let severity = b.events.front().map_or("MEDIUM", |e| severity(e));
    match b.events.len() {
        1 => format!("actorwatch: an event of {} ({severity})", b.filter_id),
        n => format!("actorwatch: {n} events of {} ({severity})", b.filter_id),
    }
}

fn taxonomy_line(b: &Batch) -> String {
    let techniques: Vec<String> = b
        .taxonomy
        .techniques
        .iter()
        .map(|t| format!("{} {}", t.id, t.name))
        .collect();
    let owasp: Vec<String> = b
        .taxonomy
        .owasp
        .iter()
        .map(|c| format!("{} {}", c.id, c.name))
        .collect();
    format!(
        "ATT&CK: {} · OWASP API: {}",
        techniques.join(", "),
        owasp.join(", ")
    )
}

fn more_line(b: &Batch) -> Option<String> {
    (b.events.len() > LISTED).then(|| format!("and {} more", b.events.len() - LISTED))
}

pub(super) fn slack(b: &Batch) -> Vec<u8> {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&headline(b), 150)}}),
        json!({"type": "section", "text": {"type": "plain_text", "text": cut(&b.overview.description, 2900)}}),
    ];
    for e in b.events.iter().take(LISTED) {
        blocks.push(json!({"type": "section", "text": {
            "type": "mrkdwn",
            "text": cut(&plain(&summary(e)), 2900),
        }}));
    }
    if let Some(more) = more_line(b) {
        blocks.push(json!({"type": "section", "text": {"type": "plain_text", "text": more}}));
    }
    blocks.push(json!({"type": "context", "elements": [
        {"type": "plain_text", "text": cut(&taxonomy_line(b), 2900)},
    ]}));
    let body = json!({"text": cut(&plain(&headline(b)), 3000), "blocks": blocks});
    serde_json::to_vec(&body).unwrap_or_default()
}

pub(super) fn teams(b: &Batch) -> Vec<u8> {
    let text = |t: String, weight: &str| -> Value {
        json!({"type": "TextBlock", "text": t, "wrap": true, "weight": weight})
    };
    let mut body = vec![
        text(plain(&headline(b)), "Bolder"),
        text(plain(&cut(&b.overview.description, 1000)), "Default"),
    ];
    for e in b.events.iter().take(LISTED) {
        body.push(text(cut(&plain(&summary(e)), 1000), "Default"));
    }
    if let Some(more) = more_line(b) {
        body.push(text(more, "Default"));
    }
    body.push(text(plain(&taxonomy_line(b)), "Lighter"));
    let message = json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "type": "AdaptiveCard",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "version": "1.4",
                "body": body,
            },
        }],
    });
    serde_json::to_vec(&message).unwrap_or_default()
}
