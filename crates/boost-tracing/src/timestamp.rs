//! RFC 3339 UTC timestamps with microseconds (`2026-11-22T00:06:38.123456Z`), without allocation.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// The last second rendered on this thread and its `YYYY-MM-DDTHH:MM:SS` spelling.
    static LAST_SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// Appends the current time, e.g. `2026-11-22T00:06:38.123456Z` (27 bytes).
pub(crate) fn write_now(out: &mut Vec<u8>) {
    write(SystemTime::now(), out);
}

/// Appends `t` in RFC 3339 UTC with microseconds.
pub(crate) fn write(t: SystemTime, out: &mut Vec<u8>) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let micros = d.subsec_micros();
    let prefix = LAST_SECOND.with(|cell| {
        let (cached, text) = cell.get();
        if cached == secs {
            text
        } else {
            let text = render_second(secs);
            cell.set((secs, text));
            text
        }
    });
    out.extend_from_slice(&prefix);
    let mut frac = [b'.', b'0', b'0', b'0', b'0', b'0', b'0', b'Z'];
    let mut m = micros;
    for i in (1..7).rev() {
        frac[i] = b'0' + (m % 10) as u8;
        m /= 10;
    }
    out.extend_from_slice(&frac);
}

fn render_second(secs: u64) -> [u8; 19] {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let mut b = *b"0000-00-00T00:00:00";
    let y = y.clamp(0, 9999) as u64;
    two(&mut b[0..2], y / 100);
    two(&mut b[2..4], y % 100);
    two(&mut b[5..7], u64::from(mo));
    two(&mut b[8..10], u64::from(d));
    two(&mut b[11..13], h);
    two(&mut b[14..16], mi);
    two(&mut b[17..19], s);
    b
}

fn two(out: &mut [u8], v: u64) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn render(t: SystemTime) -> String {
        let mut v = Vec::new();
        write(t, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn renders_rfc3339_utc_with_microseconds() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(render(t), "2023-11-14T22:13:20.123456Z");
        assert_eq!(render(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(render(leap), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn agrees_with_the_time_crate() {
        let now = SystemTime::now();
        let ours = render(now);
        let theirs = time::OffsetDateTime::from(now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        assert_eq!(&ours[..26], &theirs[..26]);
    }
}
