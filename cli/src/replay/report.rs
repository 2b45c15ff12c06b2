//! `--report report.html`: one self-contained page (inline SVG and CSS, no script, nothing
//! fetched) of what a replay saw: counted responses over time, the top actors' window counts
//! against their threshold with the moments they were flagged, how far above everyone else
//! they were, threat matches over time, and the summary and sweep tables.

use super::lane::{Lane, Step};
use super::sweep::{Row, HEADER};
use actorwatch_core::Inspection;
use actorwatch_core::{ActorKey, Config};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::{BTreeMap, HashMap};

/// Points per time chart at most: longer inputs are drawn in coarser buckets.
const MAX_POINTS: u64 = 720;
/// The finest bucket: 100 ms (a demo's seconds of traffic still draw as lines).
const TICK_MS: u64 = 100;
/// Actors drawn per counting rule.
const TOP_ACTORS: usize = 5;

/// An actor's counted responses per 100 ms tick, for one counting rule, in tick order.
type Series = Vec<(u64, u32)>;

fn add(points: &mut Series, tick: u64) {
    match points.last_mut() {
        Some((t, n)) if *t == tick => *n += 1,
        _ => points.push((tick, 1)),
    }
}

pub struct Collector {
    first_tick: Option<u64>,
    last_tick: u64,
    /// Responses a counting rule counted, per tick.
    counted: BTreeMap<u64, u64>,
    /// Per counting rule and actor, from the actor's second counted response in a window on
    /// (a one-off actor costs no series).
    series: Vec<HashMap<ActorKey, Series>>,
    /// Per counting rule: (actor, time) of each event.
    flags: Vec<Vec<(ActorKey, u64)>>,
    /// Threat-rule matches per (threat rule, tick).
    threats: BTreeMap<(usize, u64), u64>,
}

impl Collector {
    pub fn new(cfg: &Config) -> Self {
        Collector {
            first_tick: None,
            last_tick: 0,
            counted: BTreeMap::new(),
            series: cfg.rules.iter().map(|_| HashMap::new()).collect(),
            flags: cfg.rules.iter().map(|_| Vec::new()).collect(),
            threats: BTreeMap::new(),
        }
    }

    /// Takes in one replayed response and what the main lane made of it.
    pub fn record(
        &mut self,
        lane: &Lane,
        ts_ms: u64,
        actor: Option<&ActorKey>,
        step: &Step,
        inspection: &Inspection,
    ) {
        let tick = ts_ms / TICK_MS;
        self.first_tick.get_or_insert(tick);
        self.last_tick = self.last_tick.max(tick);
        for hit in &inspection.hits {
            *self.threats.entry((hit.rule, tick)).or_default() += 1;
        }
        if step.counts.iter().any(|&c| c > 0) {
            *self.counted.entry(tick).or_default() += 1;
        }
        let Some(actor) = actor else {
            return;
        };
        for (rule, &count) in step.counts.iter().enumerate() {
            let Some(series) = self.series.get_mut(rule) else {
                continue;
            };
            if let Some(points) = series.get_mut(actor) {
                add(points, tick);
            } else if count >= 2 {
                // An actor's series starts with the responses in its window at its second one:
                // a one-off actor costs none.
                let mut points = Series::new();
                let window = lane.peaks.get(rule).and_then(|p| p.actors.get(actor));
                for t in window.into_iter().flat_map(|w| w.times()) {
                    add(&mut points, t / TICK_MS);
                }
                series.insert(actor.clone(), points);
            }
        }
        let counting = lane.cfg.rules.len();
        for d in step.detections.iter().filter(|d| d.rule < counting) {
            if let Some(flags) = self.flags.get_mut(d.rule) {
                flags.push((actor.clone(), d.at_ms));
            }
        }
    }

    /// The page.
    pub fn finish(self, lane: &Lane, summary: &str, sweep: &[Row], span_ms: u64) -> String {
        let first = self.first_tick.unwrap_or(0);
        let ticks = self.last_tick.saturating_sub(first) + 1;
        let step = nice_step(ticks.div_ceil(MAX_POINTS).max(1) * TICK_MS) / TICK_MS;
        let buckets = usize::try_from(ticks.div_ceil(step)).unwrap_or(usize::MAX);
        let bucket_of = |tick: u64| usize::try_from((tick - first) / step).unwrap_or(0);
        let unit = duration(step * TICK_MS);
        let axis = Axis {
            first_ms: first * TICK_MS,
            bucket_ms: step * TICK_MS,
            buckets,
        };

        let mut body: Vec<Markup> = Vec::new();
        body.push(html! {
            h1 { "actorwatch replay" }
            p {
                (duration(span_ms)) " of input, " (self.counted.values().sum::<u64>())
                " matched responses."
                @if step > 1 {
                    " Time charts are drawn per " (unit) " (at most " (MAX_POINTS)
                    " points per chart): counts are summed, window counts are the highest in \
                     each bucket."
                }
            }
        });

        let mut counted = vec![0.0; buckets];
        for (&tick, &n) in &self.counted {
            if let Some(v) = counted.get_mut(bucket_of(tick)) {
                *v += n as f64;
            }
        }
        body.push(html! {
            h2 { "Responses a counting rule counted, per " (unit) }
            (time_chart("counted", &axis, &[("counted", &counted, "#1f77b4")], None, &[], None))
        });

        for (rule_index, rule) in lane.cfg.rules.iter().enumerate() {
            let (Some(peaks), Some(series), Some(flags)) = (
                lane.peaks.get(rule_index),
                self.series.get(rule_index),
                self.flags.get(rule_index),
            ) else {
                continue;
            };
            let threshold = f64::from(rule.threshold);
            body.push(html! {
                h2 {
                    (rule.id) ": the top actors' counts within " (duration(rule.window_ms()))
                    " against the threshold of " (rule.threshold)
                }
                p {
                    "Each chart is one actor's count of responses " (rule.id)
                    " counts within its window, the highest per " (unit)
                    "; red marks are the events raised."
                }
            });
            let mut top: Vec<(&ActorKey, u32)> =
                peaks.actors.iter().map(|(k, w)| (k, w.peak)).collect();
            top.sort_by(|a, b| {
                b.1.cmp(&a.1).then_with(|| {
                    lane.cfg
                        .actor
                        .display(a.0)
                        .cmp(&lane.cfg.actor.display(b.0))
                })
            });
            for (actor, peak) in top.into_iter().take(TOP_ACTORS) {
                let name = lane.cfg.actor.display(actor);
                let points = series.get(actor).map(Vec::as_slice).unwrap_or(&[]);
                let window_ticks = rule.window_ms() / TICK_MS;
                let values = window_counts(points, window_ticks, first, step, buckets);
                let marks: Vec<u64> = flags
                    .iter()
                    .filter(|(a, _)| a == actor)
                    .map(|&(_, t)| t)
                    .collect();
                let of = ChartOf {
                    rule: &rule.id,
                    actor: &name,
                    peak,
                    events: marks.len(),
                };
                body.push(html! {
                    h3 {
                        (name) " (peak " (peak) ", " (marks.len()) " event"
                        @if marks.len() != 1 { "s" } ")"
                    }
                    (time_chart(
                        "actor",
                        &axis,
                        &[("count", &values, "#444")],
                        Some(threshold),
                        &marks,
                        Some(&of),
                    ))
                });
            }
            let peaks_of: Vec<u32> = peaks.actors.values().map(|w| w.peak).collect();
            body.push(html! {
                h2 { (rule.id) ": actors by their peak count within the window (log scales)" }
                p { "Ordinary clients sit on the left; the threshold is the red line." }
                (histogram(&rule.id, &peaks_of, rule.threshold))
            });
        }

        if !self.threats.is_empty() {
            let palette = [
                "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
            ];
            let mut lines: Vec<(String, Vec<f64>)> = Vec::new();
            for (&(rule, tick), &n) in &self.threats {
                let id = lane
                    .cfg
                    .threat_rules
                    .get(rule)
                    .map_or("?".to_string(), |r| r.id.as_str().to_string());
                let at = match lines.iter().position(|(l, _)| *l == id) {
                    Some(at) => at,
                    None => {
                        lines.push((id, vec![0.0; buckets]));
                        lines.len() - 1
                    }
                };
                if let Some(v) = lines
                    .get_mut(at)
                    .and_then(|(_, v)| v.get_mut(bucket_of(tick)))
                {
                    *v += n as f64;
                }
            }
            let series: Vec<(&str, &[f64], &str)> = lines
                .iter()
                .zip(palette.iter().cycle())
                .map(|((id, v), c)| (id.as_str(), v.as_slice(), *c))
                .collect();
            body.push(html! {
                h2 { "Threat rules: matches per " (unit) }
                (time_chart("threats", &axis, &series, None, &[], None))
            });
        }

        if !sweep.is_empty() {
            body.push(html! {
                h2 { "Sweep" }
                table class="sweep" {
                    tr { @for column in HEADER { th { (column) } } }
                    @for r in sweep {
                        tr data-combination=(r.label) {
                            td { (r.label) }
                            td { (r.actors_flagged) }
                            td { (r.events) }
                            td { (r.events_per_day_text()) }
                            td { (r.never_close_text()) }
                        }
                    }
                }
                p { "Never close: actors whose count never reached half of a threshold." }
                @if let Some(note) = super::sweep::per_day_note(span_ms) {
                    p class="per-day" { (note) }
                }
            });
        }
        body.push(html! {
            h2 { "Summary" }
            pre class="summary" { (summary) }
        });
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta http-equiv="Content-Security-Policy"
                        content="default-src 'none'; style-src 'unsafe-inline'";
                    title { "actorwatch replay" }
                    style { (PreEscaped(STYLE)) }
                }
                body { @for part in &body { (part) } }
            }
        };
        page.into_string() + "\n"
    }
}

const STYLE: &str =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:960px;color:#222}\
h2{margin-top:2em;font-size:1.15em}h3{font-size:1em;margin:1em 0 .2em}\
svg{display:block;background:#fafafa;border:1px solid #ddd}\
svg text{font:11px sans-serif;fill:#555}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}\
pre{background:#f4f4f4;padding:1em;overflow-x:auto}";

// The charts below are drawn here rather than by a charting crate: their geometry is this
// report's own (window counts against a threshold line with event marks, log-log bins), and
// every element carries the numbers it shows as `data-` attributes (series values, peaks,
// events, bins) for a reader of the page and for the tests. maud writes the markup and escapes
// the text in it; what is left here is where things go.

struct Axis {
    first_ms: u64,
    bucket_ms: u64,
    buckets: usize,
}

/// What an actor's chart says about itself in its attributes.
struct ChartOf<'a> {
    rule: &'a str,
    actor: &'a str,
    peak: u32,
    events: usize,
}

const W: f64 = 900.0;
const H: f64 = 180.0;
const LEFT: f64 = 50.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 25.0;
const SVG_NS: &str = "http://www.w3.org/2000/svg";

/// A coordinate to a tenth of a pixel.
fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// An actor's count within its window per bucket, from its responses per tick: the highest
/// of the counts just after each of its responses in the bucket and the count at the bucket's
/// end (responses leaving the window), all to the tick.
fn window_counts(
    points: &[(u64, u32)],
    window_ticks: u64,
    first: u64,
    step: u64,
    buckets: usize,
) -> Vec<f64> {
    // prefix[i]: responses in points[..i].
    let mut prefix = Vec::with_capacity(points.len() + 1);
    prefix.push(0u64);
    for &(_, n) in points {
        prefix.push(prefix.last().copied().unwrap_or(0) + u64::from(n));
    }
    // Responses in ticks (end - window, end].
    let in_window = |end: u64| {
        let upto = |tick: u64| prefix[points.partition_point(|&(t, _)| t <= tick)];
        upto(end) - end.checked_sub(window_ticks).map_or(0, upto)
    };
    let mut values = vec![0.0; buckets];
    for &(tick, _) in points {
        let bucket = usize::try_from((tick - first) / step).unwrap_or(0);
        if let Some(v) = values.get_mut(bucket) {
            *v = f64::max(*v, in_window(tick) as f64);
        }
    }
    for (b, v) in values.iter_mut().enumerate() {
        let end = first + (b as u64 + 1) * step - 1;
        *v = f64::max(*v, in_window(end) as f64);
    }
    values
}

/// Lines over time (one point per bucket), an optional threshold line and event marks.
fn time_chart(
    class: &str,
    axis: &Axis,
    series: &[(&str, &[f64], &str)],
    threshold: Option<f64>,
    marks: &[u64],
    of: Option<&ChartOf>,
) -> Markup {
    let top_value = series
        .iter()
        .flat_map(|(_, v, _)| v.iter().copied())
        .chain(threshold)
        .fold(1.0, f64::max)
        * 1.1;
    let n = axis.buckets.max(2) as f64 - 1.0;
    let x = |i: f64| LEFT + (W - LEFT - RIGHT) * i / n;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - v / top_value);
    let end_ms = axis.first_ms + axis.bucket_ms * axis.buckets as u64;
    html! {
        svg class=(class) data-rule=[of.map(|o| o.rule)] data-actor=[of.map(|o| o.actor)]
            data-peak=[of.map(|o| o.peak)] data-events=[of.map(|o| o.events)]
            xmlns=(SVG_NS) width=(W) height=(H) viewBox={ "0 0 " (W) " " (H) } {
            line x1=(LEFT) y1=(H - BOTTOM) x2=(W - RIGHT) y2=(H - BOTTOM) stroke="#999" {}
            text x=(LEFT - 4.0) y=(TOP + 10.0) text-anchor="end" { (number(top_value / 1.1)) }
            text x=(LEFT - 4.0) y=(H - BOTTOM) text-anchor="end" { "0" }
            text x=(LEFT) y=(H - 8.0) { (clock(axis.first_ms)) }
            text x=(W - RIGHT) y=(H - 8.0) text-anchor="end" { (clock(end_ms)) }
            @if let Some(t) = threshold {
                line class="threshold" data-value=(t) x1=(LEFT) y1=(px(y(t))) x2=(W - RIGHT)
                    y2=(px(y(t))) stroke="#d62728" stroke-dasharray="4 3" {}
            }
            @for (label, values, color) in series {
                @let xy: Vec<(f64, f64)> = values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (x(i as f64), y(v)))
                    .collect();
                @let data: Vec<String> = values.iter().map(|v| number(*v)).collect();
                @let points: Vec<String> =
                    xy.iter().map(|(px_, py)| format!("{px_:.1},{py:.1}")).collect();
                polyline class="series" data-label=(label) data-values=(data.join(" "))
                    fill="none" stroke=(color) stroke-width="1.5" points=(points.join(" ")) {}
                // Few points: each drawn, so that a short input still shows its values.
                @if values.len() <= 60 {
                    @for (cx, cy) in &xy {
                        circle cx=(px(*cx)) cy=(px(*cy)) r="2" fill=(color) {}
                    }
                }
            }
            @if series.len() > 1 {
                @for (i, (label, _, color)) in series.iter().enumerate() {
                    text x=(LEFT + 10.0 + 150.0 * i as f64) y=(TOP + 12.0) fill=(color)
                        style={ "fill:" (color) } { (label) }
                }
            }
            @for &t in marks {
                @let i = (t.saturating_sub(axis.first_ms)) as f64 / axis.bucket_ms as f64;
                circle class="event" data-ts-ms=(t) cx=(px(x(i.min(n))))
                    cy=(px(y(threshold.unwrap_or(0.0)))) r="4" fill="#d62728" {}
            }
        }
    }
}

/// Actors per peak count, in powers-of-two bins, both axes logarithmic.
fn histogram(rule: &str, peaks: &[u32], threshold: u32) -> Markup {
    let max_peak = peaks
        .iter()
        .copied()
        .max()
        .unwrap_or(1)
        .max(threshold)
        .max(1);
    let bins = (32 - max_peak.leading_zeros()) as usize;
    let mut counts = vec![0u64; bins];
    for &p in peaks.iter().filter(|&&p| p > 0) {
        if let Some(c) = counts.get_mut((31 - p.leading_zeros()) as usize) {
            *c += 1;
        }
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let log_top = (top + 1.0).log10();
    let width = (W - LEFT - RIGHT) / bins as f64;
    // The threshold's place on the log axis, within its bin.
    let tx = LEFT + width * f64::from(threshold.max(1)).log2();
    html! {
        svg class="peaks" data-rule=(rule) xmlns=(SVG_NS) width=(W) height=(H)
            viewBox={ "0 0 " (W) " " (H) } {
            @for (i, &c) in counts.iter().enumerate() {
                @let lo = 1u64 << i;
                @let hi = (1u64 << (i + 1)) - 1;
                @let h = (H - TOP - BOTTOM) * ((c as f64 + 1.0).log10() / log_top);
                @let x = LEFT + width * i as f64;
                rect class="bin" data-lo=(lo) data-hi=(hi) data-actors=(c) x=(px(x + 1.0))
                    y=(px(H - BOTTOM - h)) width=(px(width - 2.0)) height=(px(h)) fill="#1f77b4" {}
                text x=(px(x + width / 2.0)) y=(px((H - BOTTOM - h - 3.0).max(TOP + 8.0)))
                    text-anchor="middle" { (c) }
                text x=(px(x + width / 2.0)) y=(px(H - 8.0)) text-anchor="middle" {
                    (lo) @if lo != hi { "-" (hi) }
                }
            }
            line class="threshold" data-value=(threshold) x1=(px(tx)) y1=(TOP) x2=(px(tx))
                y2=(H - BOTTOM) stroke="#d62728" stroke-width="2" {}
            text x=(px(tx + 4.0)) y=(TOP + 10.0) style="fill:#d62728" { "threshold " (threshold) }
        }
    }
}

/// The bucket (ms) at least `min_ms`, rounded up to a length a reader recognises.
fn nice_step(min_ms: u64) -> u64 {
    const STEPS_MS: [u64; 17] = [
        100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000,
        600_000, 900_000, 1_800_000, 3_600_000, 7_200_000,
    ];
    STEPS_MS
        .iter()
        .copied()
        .find(|&s| s >= min_ms)
        .unwrap_or_else(|| min_ms.div_ceil(3_600_000) * 3_600_000)
}

fn number(v: f64) -> String {
    if v >= 100.0 || (v - v.round()).abs() < 1e-6 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// `2026-12-02 13:05:07 UTC`.
fn clock(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .map_or_else(String::new, |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        })
}

/// `850 ms`, `2.5 s`, `45 s`, `12 min`, `3.5 h`, `1.2 days`: the units a reader of the page
/// reads at a glance, one decimal at most (bespoke: no crate rounds to these).
fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        _ if ms < 1_000 => format!("{ms} ms"),
        1..=119 if ms % 1_000 != 0 => format!("{:.1} s", ms as f64 / 1000.0),
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{:.1} h", secs as f64 / 3600.0),
        _ => format!("{:.1} days", secs as f64 / 86_400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_are_powers_of_two() {
        let svg = histogram("R", &[1, 1, 2, 3, 4, 9, 40], 10).into_string();
        for (lo, hi, n) in [
            (1, 1, 2),
            (2, 3, 2),
            (4, 7, 1),
            (8, 15, 1),
            (16, 31, 0),
            (32, 63, 1),
        ] {
            let bin = format!("data-lo=\"{lo}\" data-hi=\"{hi}\" data-actors=\"{n}\"");
            assert!(svg.contains(&bin), "{bin} in {svg}");
        }
    }

    #[test]
    fn text_from_configs_and_logs_is_escaped() {
        let svg = histogram("<a href=\"x\">&'", &[1], 1).into_string();
        assert!(
            svg.contains("data-rule=\"&lt;a href=&quot;x&quot;&gt;&amp;'\""),
            "{svg}"
        );
        let axis = Axis {
            first_ms: 0,
            bucket_ms: 100,
            buckets: 2,
        };
        let of = ChartOf {
            rule: "R",
            actor: "\"><script>",
            peak: 1,
            events: 0,
        };
        let svg = time_chart(
            "actor",
            &axis,
            &[("</text>", &[1.0, 2.0], "#444"), ("b", &[0.0, 1.0], "#444")],
            None,
            &[],
            Some(&of),
        )
        .into_string();
        assert!(
            svg.contains("data-actor=\"&quot;&gt;&lt;script&gt;\""),
            "{svg}"
        );
        assert!(svg.contains(">&lt;/text&gt;</text>"), "{svg}");
        assert!(!svg.contains("<script"), "{svg}");
    }
}
