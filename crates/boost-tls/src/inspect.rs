//! What the kit reads out of a certificate: its subject, names, validity and
//! whether it is a CA. Parsing is x509-parser's (pure Rust); a certificate it
//! cannot parse is an error, never a panic.

use std::time::{SystemTime, UNIX_EPOCH};

use x509_parser::extensions::GeneralName;

/// The longest subject or name kept from a certificate, in bytes; longer ones
/// are cut (a certificate from a peer is input like any other).
pub(crate) const MAX_NAME_LEN: usize = 512;

/// The most names of one kind (DNS, URI) kept from one certificate.
pub(crate) const MAX_NAMES: usize = 32;

/// The parts of a certificate the kit uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertInfo {
    /// The subject as RFC 4514 text, e.g. `CN=hello-service,O=team`.
    pub(crate) subject: String,
    /// Not valid before this, seconds since the epoch.
    pub(crate) not_before: i64,
    /// Not valid after this, seconds since the epoch.
    pub(crate) not_after: i64,
    /// `basicConstraints` says `CA:TRUE`.
    pub(crate) is_ca: bool,
    /// Subject alternative names of type DNS.
    pub(crate) dns_names: Vec<String>,
    /// Subject alternative names of type URI (SPIFFE IDs are these).
    pub(crate) uris: Vec<String>,
}

impl CertInfo {
    /// Parses one DER certificate; the error says what is wrong in words.
    pub(crate) fn parse(der: &[u8]) -> Result<CertInfo, String> {
        let (rest, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|error| format!("is not an X.509 certificate ({error})"))?;
        if !rest.is_empty() {
            return Err("has bytes after the certificate's end".to_owned());
        }
        let mut dns_names = Vec::new();
        let mut uris = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) if dns_names.len() < MAX_NAMES => {
                        dns_names.extend(bounded(dns));
                    }
                    GeneralName::URI(uri) if uris.len() < MAX_NAMES => uris.extend(bounded(uri)),
                    _ => {}
                }
            }
        }
        let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
        Ok(CertInfo {
            subject: rfc4514(cert.subject())
                .and_then(|s| bounded(&s))
                .unwrap_or_default(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            is_ca,
            dns_names,
            uris,
        })
    }

    /// `Err` with the reason when the certificate is not valid at `now`
    /// (seconds since the epoch).
    pub(crate) fn check_valid_at(&self, now: i64) -> Result<(), String> {
        if now > self.not_after {
            return Err(format!(
                "(`{}`) expired at {}; renew it",
                self.subject,
                show_time(self.not_after)
            ));
        }
        if now < self.not_before {
            return Err(format!(
                "(`{}`) is not valid before {}; check the clock or the certificate",
                self.subject,
                show_time(self.not_before)
            ));
        }
        Ok(())
    }

    /// The series label for this certificate: its subject, or its first
    /// URI/DNS name when the subject is empty (SPIFFE certificates often
    /// have none).
    pub(crate) fn label(&self) -> String {
        if !self.subject.is_empty() {
            return self.subject.clone();
        }
        self.uris
            .first()
            .or(self.dns_names.first())
            .cloned()
            .unwrap_or_default()
    }
}

/// Seconds since the epoch now (0 if the clock is before it).
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `2026-12-03T05:00:00Z` for seconds since the epoch.
pub(crate) fn show_time(seconds: i64) -> String {
    time_text(seconds).unwrap_or_else(|| format!("{seconds} (seconds since 1970)"))
}

fn time_text(seconds: i64) -> Option<String> {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
}

/// `text` when it is at most [`MAX_NAME_LEN`] bytes; `None` (the name is
/// dropped) when longer: a cut name could equal a shorter allow-list entry.
fn bounded(text: &str) -> Option<String> {
    (text.len() <= MAX_NAME_LEN).then(|| text.to_owned())
}

/// The name as RFC 4514 text: RDNs in reverse order of the certificate's
/// sequence (the most specific first: `CN=hello-service,O=team`), joined with
/// `,`; the attributes of a multi-valued RDN joined with `+`; values escaped
/// (`,+"\<>;`, a leading `#` or space, a trailing space, NUL); a type without
/// a short name, or a value that is not a string, as the dotted OID and
/// `#` + the value's DER in hex. `None` when the name is empty or a value
/// cannot be encoded: no subject rather than a fixed text two names share.
fn rfc4514(name: &x509_parser::x509::X509Name<'_>) -> Option<String> {
    use x509_parser::asn1_rs::ToDer as _;
    let rdns: Vec<_> = name.iter_rdn().collect();
    if rdns.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = attr.attr_type().to_id_string();
            let short = short_name(&oid);
            match (short, attr.as_str()) {
                (Some(short), Ok(value)) => {
                    out.push_str(short);
                    out.push('=');
                    escape_into(&mut out, value);
                }
                _ => {
                    let der = attr.attr_value().to_der_vec().ok()?;
                    out.push_str(short.unwrap_or(&oid));
                    out.push_str("=#");
                    for byte in der {
                        out.push_str(&format!("{byte:02x}"));
                    }
                }
            }
            if out.len() > MAX_NAME_LEN {
                return None;
            }
        }
    }
    Some(out)
}

/// The short names RFC 4514 section 3 lists.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// Appends `value` escaped as RFC 4514 section 2.4 says.
fn escape_into(out: &mut String, value: &str) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc3339() {
        assert_eq!(show_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(show_time(1_796_274_000), "2026-12-03T05:00:00Z");
        assert_eq!(show_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(CertInfo::parse(b"").is_err());
        assert!(CertInfo::parse(&[0x30, 0x82, 0xff, 0xff, 0x00]).is_err());
    }

    #[test]
    fn long_names_are_dropped_not_cut() {
        assert_eq!(bounded(&"é".repeat(MAX_NAME_LEN)), None);
        assert_eq!(bounded("CN=x").as_deref(), Some("CN=x"));
    }

    #[test]
    fn values_are_escaped_as_rfc_4514_says() {
        let mut out = String::new();
        escape_into(&mut out, "# a,b+c\"d\\e<f>g;h ");
        assert_eq!(out, "\\# a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\ ");
        let mut out = String::new();
        escape_into(&mut out, " ");
        assert_eq!(out, "\\ ");
    }

    fn subject_of(dn: &[(rcgen::DnType, &str)]) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in dn {
            params.distinguished_name.push(kind.clone(), *value);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        CertInfo::parse(cert.der()).unwrap().subject
    }

    #[test]
    fn the_subject_is_rfc_4514_most_specific_first() {
        use rcgen::DnType;
        let real = subject_of(&[(DnType::OrganizationName, "y"), (DnType::CommonName, "x")]);
        assert_eq!(real, "CN=x,O=y");
        // A common name that reads like two fields is one escaped value.
        let spoof = subject_of(&[(DnType::CommonName, "x, O=y")]);
        assert_eq!(spoof, "CN=x\\, O=y");
        let spoof = subject_of(&[(DnType::CommonName, "x,O=y")]);
        assert_eq!(spoof, "CN=x\\,O=y");
        assert_ne!(spoof, real);
        // A type without a short name: dotted OID and the value's DER.
        let odd = subject_of(&[(DnType::CustomDnType(vec![1, 2, 3, 4]), "z")]);
        assert_eq!(odd, "1.2.3.4=#0c017a");
        assert_eq!(subject_of(&[]), "");
    }
}
