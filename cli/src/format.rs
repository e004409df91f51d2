//! Numbers, shares, lengths of time and dates as every renderer writes
//! them: `1,234,567`, `2 classes`, `99%`, `12.40 s`, `2025-11-23
//! 12:13:20.250 UTC`. A leaf module: it imports nothing from the crate.

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).expect("ASCII digits"))
        .collect();
    groups.join(",")
}

/// `1 class`, `2,913 classes`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// A share as a whole percentage, rounded down so that "100%" means all:
/// `99%`, `<1%`, `0%`.
pub fn percent(share: f64) -> String {
    let p = (share * 100.0).floor();
    if share > 0.0 && p < 1.0 {
        "<1%".to_string()
    } else {
        format!("{p:.0}%")
    }
}

/// `part` of `whole` as [`percent`] (`0%` of nothing).
pub fn percent_of(part: u64, whole: u64) -> String {
    percent(if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    })
}

/// A number that is usually whole: `50`, `1,000`, `0.50`.
pub fn decimal(v: f64) -> String {
    if v.fract() == 0.0 && v >= 0.0 {
        thousands(v as u64)
    } else {
        format!("{v:.2}")
    }
}

/// Bytes in binary units to a tenth, `.0` left out: `512 B`, `7.5 KiB`,
/// `27.1 MiB`, `32 MiB`, `1 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    // 1023.96 KiB would print as 1024.0 KiB: move up first.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    format!("{} {}", text.trim_end_matches(".0"), UNITS[unit])
}

/// A length in milliseconds, e.g. `850 ms`, `12.40 s`, `3m 07s`, `1h 02m`.
pub fn duration(ms: f64) -> String {
    if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1_000.0)
    } else {
        let s = (ms / 1_000.0).round() as u64;
        if s < 3_600 {
            format!("{}m {:02}s", s / 60, s % 60)
        } else {
            format!("{}h {:02}m", s / 3_600, (s % 3_600) / 60)
        }
    }
}

/// Milliseconds since the epoch as UTC: `2025-11-23 12:13:20.250 UTC`, or
/// only the time of day when `with_date` is false.
pub fn wall_clock(ms: u64, with_date: bool) -> String {
    let secs = ms / 1_000;
    let (h, m, s) = ((secs / 3_600) % 24, (secs / 60) % 60, secs % 60);
    let time = format!("{h:02}:{m:02}:{s:02}.{:03} UTC", ms % 1_000);
    if !with_date {
        return time;
    }
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{mo:02}-{d:02} {time}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// algorithm), so the report needs no date-time crate.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1 KiB");
        assert_eq!(bytes(7_680), "7.5 KiB");
        assert_eq!(bytes(271 * (1 << 20) / 10), "27.1 MiB");
        assert_eq!(bytes(32 << 20), "32 MiB");
        assert_eq!(bytes((1 << 20) - 1), "1 MiB");
        assert_eq!(bytes(1 << 30), "1 GiB");
        assert_eq!(bytes(u64::MAX), "16777216 TiB");
    }

    #[test]
    fn numbers_and_times_format_compactly() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(plural(1, "class", "classes"), "1 class");
        assert_eq!(plural(2_913, "class", "classes"), "2,913 classes");
        assert_eq!(decimal(50.0), "50");
        assert_eq!(decimal(0.5), "0.50");
        assert_eq!(duration(850.4), "850 ms");
        assert_eq!(duration(12_400.0), "12.40 s");
        assert_eq!(duration(187_000.0), "3m 07s");
        assert_eq!(duration(3_720_000.0), "1h 02m");
        assert_eq!(wall_clock(0, true), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(
            wall_clock(1_763_900_000_250, true),
            "2025-11-23 12:13:20.250 UTC"
        );
        assert_eq!(
            wall_clock(951_782_400_000, true),
            "2000-02-29 00:00:00.000 UTC"
        );
        assert_eq!(wall_clock(1_763_900_000_250, false), "12:13:20.250 UTC");
    }

    #[test]
    fn shares_round_down() {
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.9997), "99%");
        assert_eq!(percent(0.004), "<1%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent_of(100, 100), "100%");
        assert_eq!(percent_of(1, 0), "0%");
    }
}
