//! `--sweep "threshold=5,10;window_secs=60,300"`: the configurations a replay runs side by side,
//! one per combination of values, each set on every counting rule.

use super::lane::Lane;
use actorwatch_core::Config;
use serde_json::{Number, Value};

/// At most this many combinations: each is an engine of its own fed every record.
pub const MAX_COMBINATIONS: usize = 64;

/// One combination: the values it sets, in the order the keys were given.
#[derive(Debug, Clone, PartialEq)]
pub struct Combination {
    pub values: Vec<(String, Number)>,
}

impl Combination {
    /// `threshold=10 window_secs=60`.
    pub fn label(&self) -> String {
        let parts: Vec<String> = self
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.join(" ")
    }
}

/// Parses the specification into every combination, first key slowest. Split by hand: the
/// grammar is `key=v,v;key=v` and nothing more, and each mistake gets a message of its own.
pub fn parse(spec: &str) -> Result<Vec<Combination>, String> {
    let mut keys: Vec<(String, Vec<Number>)> = Vec::new();
    for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, values)) = part.split_once('=') else {
            return Err(format!("--sweep: `{part}` is not key=value,value,..."));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("--sweep: `{part}` has no key"));
        }
        if keys.iter().any(|(k, _)| k == key) {
            return Err(format!("--sweep: `{key}` is given twice"));
        }
        let mut numbers = Vec::new();
        for value in values.split(',').map(str::trim) {
            match serde_json::from_str::<Number>(value) {
                Ok(n) => numbers.push(n),
                Err(_) => return Err(format!("--sweep: {key}: `{value}` is not a number")),
            }
        }
        keys.push((key.to_string(), numbers));
    }
    if keys.is_empty() {
        return Err("--sweep: no key=value,... given".into());
    }
    let total = keys
        .iter()
        .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
        .unwrap_or(usize::MAX);
    if total > MAX_COMBINATIONS {
        return Err(format!(
            "--sweep: {total} combinations, at most {MAX_COMBINATIONS}"
        ));
    }
    let mut combinations = vec![Combination { values: Vec::new() }];
    for (key, values) in &keys {
        combinations = combinations
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut values = c.values.clone();
                    values.push((key.clone(), v.clone()));
                    Combination { values }
                })
            })
            .collect();
    }
    Ok(combinations)
}

/// The configuration `base` (the JSON document as read) with the combination set on every
/// counting rule, validated as the hosts validate it.
pub fn configure(base: &Value, combination: &Combination) -> Result<Config, String> {
    let mut doc = base.clone();
    let Some(rules) = doc.get_mut("rules").and_then(Value::as_array_mut) else {
        return Err("--sweep: the configuration has no `rules` to set values on".into());
    };
    for rule in rules.iter_mut() {
        let Some(rule) = rule.as_object_mut() else {
            continue;
        };
        for (key, value) in &combination.values {
            rule.insert(key.clone(), Value::Number(value.clone()));
        }
    }
    let text = doc.to_string();
    // `{"env": "NAME"}` values are read as `load_config` reads them.
    Config::from_json_with_env(text.as_bytes(), &crate::env_var)
        .map_err(|e| format!("--sweep {}: {e}", combination.label()))
}

/// The shortest input whose events are scaled to a day. Minutes of traffic say nothing of a
/// day's (bursts, quiet nights, a test run): the demo's 3.9 s would read as 44,217 a day.
pub const MIN_SPAN_PER_DAY_MS: u64 = 3_600_000;

/// What the sweep's tables say under the rows when events were not scaled to a day.
pub fn per_day_note(span_ms: u64) -> Option<String> {
    (span_ms < MIN_SPAN_PER_DAY_MS).then(|| {
        format!(
            "events per day: not scaled from {:.1} s of input; an input of at least an hour is \
             needed for a rate that says something of a day",
            span_ms as f64 / 1000.0
        )
    })
}

/// What one combination flagged over the whole input.
#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    /// Distinct actors any counting rule raised an event for.
    pub actors_flagged: usize,
    /// The counting rules' events.
    pub events: u64,
    /// Events scaled to 24 hours of input (`None` for an input shorter than
    /// [`MIN_SPAN_PER_DAY_MS`]).
    pub events_per_day: Option<f64>,
    /// Of the actors with a counted response, those whose count never reached half of any
    /// rule's threshold within its window.
    pub never_close: Option<f64>,
}

impl Row {
    pub fn of(combination: &Combination, lane: &Lane, span_ms: u64) -> Row {
        let (actors_flagged, events) = lane.counting_totals();
        Row {
            label: combination.label(),
            actors_flagged,
            events,
            events_per_day: (span_ms >= MIN_SPAN_PER_DAY_MS)
                .then(|| events as f64 * 86_400_000.0 / span_ms as f64),
            never_close: lane.never_close_share(),
        }
    }
}

impl Row {
    /// Events per day with one decimal, `-` for an input too short to scale.
    pub fn events_per_day_text(&self) -> String {
        self.events_per_day
            .map_or("-".into(), |d| format!("{d:.1}"))
    }

    /// The never-close share in percent with one decimal, `-` without counted responses.
    pub fn never_close_text(&self) -> String {
        self.never_close
            .map_or("-".into(), |n| format!("{:.1}", n * 100.0))
    }
}

/// The columns of the sweep's tables, in the text and on the report's page.
pub const HEADER: [&str; 5] = [
    "combination",
    "actors flagged",
    "events",
    "events per day",
    "never close (%)",
];

/// The sweep as a text table, with [`per_day_note`] under it.
pub fn table(rows: &[Row], span_ms: u64) -> String {
    let mut table = super::table::new(&HEADER, 1);
    for r in rows {
        table.add_row(vec![
            r.label.clone(),
            r.actors_flagged.to_string(),
            r.events.to_string(),
            r.events_per_day_text(),
            r.never_close_text(),
        ]);
    }
    let mut text = super::table::render(&table);
    if let Some(note) = per_day_note(span_ms) {
        text.push_str(&note);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_first_key_slowest() {
        let c = parse("threshold=5,10; window_secs=60,300,600").unwrap();
        let labels: Vec<String> = c.iter().map(Combination::label).collect();
        assert_eq!(
            labels,
            [
                "threshold=5 window_secs=60",
                "threshold=5 window_secs=300",
                "threshold=5 window_secs=600",
                "threshold=10 window_secs=60",
                "threshold=10 window_secs=300",
                "threshold=10 window_secs=600",
            ]
        );
    }

    #[test]
    fn bad_specifications_say_what_is_wrong() {
        for (spec, said) in [
            ("threshold", "not key=value"),
            ("=5", "has no key"),
            ("threshold=5;threshold=6", "given twice"),
            ("threshold=five", "`five` is not a number"),
            ("", "no key=value"),
            (
                "a=1,2,3,4;b=1,2,3,4;c=1,2,3,4,5",
                "80 combinations, at most 64",
            ),
        ] {
            let err = parse(spec).unwrap_err();
            assert!(err.contains(said), "{spec}: {err}");
        }
    }

    #[test]
    fn values_go_on_every_rule_and_are_validated() {
        let base: Value = serde_json::from_str(
            r#"{"rules": [{"id": "A", "threshold": 3}, {"id": "B", "statuses": [401]}],
                "webhook": {"url": "http://127.0.0.1/hook"}}"#,
        )
        .unwrap();
        let c = &parse("threshold=7;window_secs=30").unwrap()[0];
        let cfg = configure(&base, c).unwrap();
        assert!(cfg
            .rules
            .iter()
            .all(|r| r.threshold == 7 && r.window_ms() == 30_000));
        let c = &parse("threshold=0").unwrap()[0];
        let err = configure(&base, c).unwrap_err();
        assert!(err.contains("rules[0].threshold"), "{err}");
    }
}
