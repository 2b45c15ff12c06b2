//! Node logs: the container runtime's (CRI) and Docker's json-file wrapping of each line.

use super::Malformed;
use chrono::DateTime;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wrapper {
    /// `<RFC 3339 time> stdout|stderr F|P <line>` (containerd, CRI-O): `P` is a part of a long
    /// line, continued by the next record of the same stream, up to an `F` one.
    Cri,
    /// `{"log": "<line>\n", "stream": "stdout", "time": "..."}`: a `log` without its final
    /// newline is a part, continued by the next record of the same stream.
    Docker,
}

impl Wrapper {
    fn name(self) -> &'static str {
        match self {
            Wrapper::Cri => "CRI",
            Wrapper::Docker => "Docker JSON",
        }
    }
}

/// One record of a node log.
struct Record<'a> {
    stderr: bool,
    partial: bool,
    content: Cow<'a, str>,
}

/// The wrapper around the first non-empty line, if it has one.
pub(super) fn detect(text: &str) -> Option<Wrapper> {
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    [Wrapper::Cri, Wrapper::Docker]
        .into_iter()
        .find(|w| record(*w, first.trim_end_matches('\r')).is_some())
}

fn record(wrapper: Wrapper, line: &str) -> Option<Record<'_>> {
    match wrapper {
        Wrapper::Cri => cri(line),
        Wrapper::Docker => docker(line),
    }
}

fn cri(line: &str) -> Option<Record<'_>> {
    let mut fields = line.splitn(4, ' ');
    let (time, stream, tags) = (fields.next()?, fields.next()?, fields.next()?);
    DateTime::parse_from_rfc3339(time).ok()?;
    let stderr = match stream {
        "stdout" => false,
        "stderr" => true,
        _ => return None,
    };
    // Tags are `:`-separated; `P` (partial) and `F` (full) are the ones defined.
    let tags_ok = tags
        .split(':')
        .all(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_uppercase()));
    if !tags_ok {
        return None;
    }
    Some(Record {
        stderr,
        partial: tags.split(':').any(|t| t == "P"),
        content: Cow::Borrowed(fields.next().unwrap_or("")),
    })
}

#[derive(Deserialize)]
struct DockerLine {
    log: String,
    stream: String,
}

fn docker(line: &str) -> Option<Record<'static>> {
    if !line.starts_with('{') {
        return None;
    }
    let DockerLine { mut log, stream } = serde_json::from_str(line).ok()?;
    let partial = !log.ends_with('\n');
    if !partial {
        log.pop();
    }
    Some(Record {
        stderr: stream == "stderr",
        partial,
        content: Cow::Owned(log),
    })
}

/// The lines inside a wrapper, record by record: parts of a long line are joined, and each line
/// keeps the number of the record it starts on.
pub(super) struct Unwrapper {
    wrapper: Wrapper,
    /// A part waiting for the rest of its line, per stream (stdout, stderr).
    pending: [Option<(usize, String)>; 2],
}

impl Unwrapper {
    pub(super) fn new(wrapper: Wrapper) -> Self {
        Unwrapper {
            wrapper,
            pending: [None, None],
        }
    }

    /// Takes record `number` (`raw`, without its line ending): the line it completes, if any. A
    /// record that is not of the wrapper's shape is malformed.
    pub(super) fn push<'a>(
        &mut self,
        number: usize,
        raw: &'a str,
    ) -> Result<Option<(usize, Cow<'a, str>)>, Malformed> {
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            return Ok(None);
        }
        let Some(rec) = record(self.wrapper, raw) else {
            return Err(Malformed {
                line: number,
                reason: format!("not a {} log record", self.wrapper.name()),
            });
        };
        let slot = &mut self.pending[usize::from(rec.stderr)];
        let (number, content) = match slot.take() {
            Some((number, mut head)) => {
                head.push_str(&rec.content);
                (number, Cow::Owned(head))
            }
            None => (number, rec.content),
        };
        if rec.partial {
            *slot = Some((number, content.into_owned()));
            return Ok(None);
        }
        Ok(Some((number, content)))
    }

    /// At the end of the log: parts never completed (the log was cut), each line as far as it
    /// goes, in the order they started.
    pub(super) fn finish(&mut self) -> Vec<(usize, String)> {
        let mut rest: Vec<(usize, String)> =
            self.pending.iter_mut().filter_map(Option::take).collect();
        rest.sort_by_key(|(n, _)| *n);
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of a whole log, in the order they start, and its malformed records.
    fn unwrapped(text: &str) -> (Vec<(usize, String)>, Vec<Malformed>) {
        let mut bad = Vec::new();
        let mut unwrapper = Unwrapper::new(detect(text).expect("a wrapper"));
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            match unwrapper.push(i + 1, raw) {
                Ok(Some((n, line))) => lines.push((n, line.into_owned())),
                Ok(None) => {}
                Err(m) => bad.push(m),
            }
        }
        lines.extend(unwrapper.finish());
        lines.sort_by_key(|(n, _)| *n);
        (lines, bad)
    }

    #[test]
    fn detects_the_wrapper_from_the_first_line() {
        let cri = "2025-05-13T18:51:48.123456789Z stdout F hello\n";
        let cri_offset = "2025-05-13T20:51:48.123456789+02:00 stderr P hel\n";
        let docker =
            r#"{"log":"hello\n","stream":"stdout","time":"2025-05-13T18:51:48.123456789Z"}"#;
        assert_eq!(detect(cri), Some(Wrapper::Cri));
        assert_eq!(detect(cri_offset), Some(Wrapper::Cri));
        assert_eq!(detect(docker), Some(Wrapper::Docker));
        for plain in [
            "1.2.3.4 - - [13/May/2025:18:51:48 +0000] \"GET / HTTP/1.1\" 200 1",
            "[2025-05-13T18:51:48.123Z] \"GET / HTTP/1.1\" 200 - 0 0 0 - \"-\" \"-\" \"-\" \"-\" \"-\"",
            r#"{"ts_ms": 1, "method": "GET", "path": "/", "status": 404}"#,
            "{\n  \"log\": {\"entries\": []}\n}",
            "2025-05-13T18:51:48.123456789Z stdin F hello",
            "2025-05-13T18:51:48.123456789Z stdout f hello",
        ] {
            assert_eq!(detect(plain), None, "{plain}");
        }
    }

    #[test]
    fn cri_parts_are_joined_per_stream_up_to_the_full_record() {
        let text = "\
2025-05-13T18:51:49.200000001Z stdout P [2025-05-13T18:51:49.198Z] \"GET /sea
2025-05-13T18:51:49.200000002Z stderr F 2025-05-13T18:51:49.200100Z\tinfo\tads\tADS: \"10.244.1.7:52210\" sidecar~10.244.1.7 resources:22 size:31.4kB
2025-05-13T18:51:49.200000003Z stdout P rch?q=aa
2025-05-13T18:51:49.200000004Z stdout F aa HTTP/1.1\" 404 -
2025-05-13T18:51:49.300000000Z stdout F
not a record
2025-05-13T18:51:49.400000000Z stdout P cut by log rotation";
        let (lines, bad) = unwrapped(text);
        assert_eq!(
            lines,
            vec![
                (1, "[2025-05-13T18:51:49.198Z] \"GET /search?q=aaaa HTTP/1.1\" 404 -".to_string()),
                (2, "2025-05-13T18:51:49.200100Z\tinfo\tads\tADS: \"10.244.1.7:52210\" sidecar~10.244.1.7 resources:22 size:31.4kB".to_string()),
                (5, String::new()),
                (7, "cut by log rotation".to_string()),
            ]
        );
        assert_eq!(
            bad,
            vec![Malformed {
                line: 6,
                reason: "not a CRI log record".into()
            }]
        );
    }

    #[test]
    fn docker_lines_end_with_a_newline_and_parts_do_not() {
        let text = r#"{"log":"203.0.113.7 - - [13/May/2025:18:51:48 +0000] \"GET /.env HTTP/1.1\" 404 153 \"-\" \"Mozilla/5.0 zgrab/0.x\"\n","stream":"stdout","time":"2025-05-13T18:51:48.123456789Z"}
{"log":"203.0.113.7 - - [13/May/2025:18:51:49 +0000] \"GET /search?q=","stream":"stdout","time":"2025-05-13T18:51:49.000000001Z"}
{"log":"x HTTP/1.1\" 404 153 \"-\" \"-\"\r\n","stream":"stdout","time":"2025-05-13T18:51:49.000000002Z"}"#;
        let (lines, bad) = unwrapped(text);
        assert_eq!(bad, vec![]);
        assert_eq!(
            lines,
            vec![
                (1, r#"203.0.113.7 - - [13/May/2025:18:51:48 +0000] "GET /.env HTTP/1.1" 404 153 "-" "Mozilla/5.0 zgrab/0.x""#.to_string()),
                (2, "203.0.113.7 - - [13/May/2025:18:51:49 +0000] \"GET /search?q=x HTTP/1.1\" 404 153 \"-\" \"-\"\r".to_string()),
            ]
        );
    }
}
