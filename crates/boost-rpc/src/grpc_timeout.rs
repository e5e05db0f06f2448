//! `grpc-timeout`: the caller's remaining time budget, as gRPC over HTTP/2
//! spells it — at most 8 ASCII digits and a unit (`H`ours, `M`inutes,
//! `S`econds, `m`illis, `u`micros, `n`anos). The client writes it on every
//! attempt; the server reads it. One spelling for both.

use std::time::Duration;

use http::HeaderName;

/// The header (metadata key). Pre-parsed: a `&str` key is re-validated on
/// every lookup.
pub(crate) const HEADER: HeaderName = HeaderName::from_static("grpc-timeout");

/// Longest value: 8 digits and a unit.
pub(crate) const MAX_LEN: usize = 9;

/// Writes `d` into `buf` the gRPC way, without allocating: at most 8 digits
/// and a unit, picking the finest unit that fits, rounded down.
pub(crate) fn encode(d: Duration, buf: &mut [u8; MAX_LEN]) -> &[u8] {
    const MAX: u128 = 99_999_999;
    let candidates = [
        (d.as_nanos(), b'n'),
        (d.as_micros(), b'u'),
        (d.as_millis(), b'm'),
        (u128::from(d.as_secs()), b'S'),
        (u128::from(d.as_secs() / 60), b'M'),
    ];
    let (mut value, unit) = candidates
        .into_iter()
        .find(|(v, _)| *v <= MAX)
        .unwrap_or((u128::from(d.as_secs() / 3600).min(MAX), b'H'));
    // Digits right to left, then the unit.
    let mut digits = [0u8; 8];
    let mut n = 0;
    loop {
        digits[7 - n] = b'0' + (value % 10) as u8;
        value /= 10;
        n += 1;
        if value == 0 || n == 8 {
            break;
        }
    }
    buf[..n].copy_from_slice(&digits[8 - n..]);
    buf[n] = unit;
    &buf[..=n]
}

/// [`encode`] as an owned string.
pub(crate) fn format(d: Duration) -> String {
    let mut buf = [0u8; MAX_LEN];
    String::from_utf8_lossy(encode(d, &mut buf)).into_owned()
}

/// Parses a value; `None` if malformed (anything but 1–8 ASCII digits and
/// a known unit).
pub(crate) fn parse(bytes: &[u8]) -> Option<Duration> {
    let (unit, digits) = bytes.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_spec() {
        assert_eq!(parse(b"100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse(b"2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse(b"1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse(b"7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse(b"99999999n"), Some(Duration::from_nanos(99_999_999)));
    }

    #[test]
    fn malformed_values_are_rejected() {
        for bad in [
            &b""[..],
            b"m",
            b"100",
            b"100x",
            b"123456789S",
            b"123456789m",
            b"-1S",
            b"+1S",
            b"1.5S",
        ] {
            assert_eq!(parse(bad), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn formats_with_at_most_eight_digits_and_round_trips() {
        assert_eq!(format(Duration::from_nanos(5)), "5n");
        assert_eq!(format(Duration::from_millis(123)), "123000u");
        assert_eq!(format(Duration::from_millis(200)), "200000u");
        assert_eq!(format(Duration::from_secs(300)), "300000m");
        assert_eq!(format(Duration::from_secs(200_000)), "200000S");
        assert_eq!(format(Duration::MAX).len(), MAX_LEN);
        for v in ["1H", "2M", "3S", "4m", "5u", "6n"] {
            let d = parse(v.as_bytes()).unwrap();
            assert_eq!(parse(format(d).as_bytes()), Some(d));
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// The longest value the spec allows: 99,999,999 hours.
        const LONGEST: Duration = Duration::from_secs(99_999_999 * 3600);

        proptest! {
            #[test]
            fn any_bytes_parse_without_panic_to_a_bounded_duration(
                bytes in proptest::collection::vec(any::<u8>(), 0..32)
            ) {
                if let Some(d) = parse(&bytes) {
                    prop_assert!(bytes.len() >= 2 && bytes.len() <= MAX_LEN);
                    prop_assert!(d <= LONGEST);
                    // A deadline from it never overflows the clock.
                    prop_assert!(std::time::Instant::now().checked_add(d).is_some());
                }
            }

            #[test]
            fn valid_values_parse_and_round_trip_exactly(
                digits in "[0-9]{1,8}",
                unit in prop::sample::select(vec!['H', 'M', 'S', 'm', 'u', 'n']),
            ) {
                let value = format!("{digits}{unit}");
                let d = parse(value.as_bytes()).expect("a valid grpc-timeout");
                prop_assert_eq!(parse(format(d).as_bytes()), Some(d));
            }

            #[test]
            fn any_duration_encodes_in_nine_bytes_rounded_down(
                secs in 0u64..(1 << 48), nanos in 0u32..1_000_000_000
            ) {
                let d = Duration::new(secs, nanos);
                let mut buf = [0u8; MAX_LEN];
                let encoded = encode(d, &mut buf).to_vec();
                prop_assert!(encoded.len() <= MAX_LEN);
                let back = parse(&encoded).expect("what we write, we read");
                prop_assert!(back <= d.min(LONGEST));
            }
        }
    }
}
