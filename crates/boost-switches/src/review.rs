//! Review-by dates: a switch past its date is stale (debt to pay down).

use time::{Date, OffsetDateTime, macros::format_description};

/// The date in `YYYY-MM-DD`, if it is one.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text.trim(), format_description!("[year]-[month]-[day]")).ok()
}

/// Whether `review_by` is before today (UTC).
pub(crate) fn is_stale(review_by: Option<&str>, now: OffsetDateTime) -> bool {
    review_by
        .and_then(parse_date)
        .is_some_and(|date| date < now.date())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_switch_is_stale_the_day_after_its_review_date() {
        let now = datetime!(2027-01-02 08:00 UTC);
        assert!(is_stale(Some("2027-01-01"), now));
        assert!(!is_stale(Some("2027-01-02"), now));
        assert!(!is_stale(None, now));
        assert!(parse_date("2027-13-01").is_none());
        assert!(parse_date("soon").is_none());
    }
}
