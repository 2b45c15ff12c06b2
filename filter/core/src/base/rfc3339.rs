//! UTC timestamps as RFC 3339 text (`2025-05-13T18:51:48Z`), as Alertmanager and PagerDuty
//! take them: days to a civil date by Howard Hinnant's algorithm (no clock is read).

/// `secs` since the Unix epoch, with `millis` after the second when it is not 0.
pub(crate) fn rfc3339(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let (h, min, s) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    match millis {
        0 => format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z"),
        ms => format!(
            "{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{:03}Z",
            ms.min(999)
        ),
    }
}

/// Year, month, day of `days` since 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn dates_as_python_datetime_prints_them() {
        // Expected values from Python's datetime.fromtimestamp(s, timezone.utc).
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (1_747_162_308, "2025-05-13T18:51:48Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(secs, 0), text);
        }
        assert_eq!(rfc3339(1_747_162_308, 7), "2025-05-13T18:51:48.007Z");
    }
}
