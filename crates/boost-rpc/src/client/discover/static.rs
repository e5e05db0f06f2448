//! [`StaticEndpoints`]: a fixed list of endpoint URLs, and what makes one usable.
//!
//! An endpoint's scheme says whether its connections use TLS (`https://`)
//! or plaintext h2c (`http://`); the client picks the connector from it.

use http::Uri;
use tower::discover::Change;

/// A fixed list of endpoints (`endpoints`), keyed by `host:port`, each once.
#[derive(Debug, Clone)]
pub(crate) struct StaticEndpoints {
    endpoints: Vec<(String, Uri)>,
}

impl StaticEndpoints {
    /// The endpoints of `urls`. A URL that [`parse_endpoint`] refuses is left
    /// out: the client's settings are validated before (`Validate for
    /// ClientSettings` reports it under `endpoints.<i>`).
    pub(crate) fn parse<I, S>(urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut endpoints: Vec<(String, Uri)> = Vec::new();
        for (key, uri) in urls
            .into_iter()
            .filter_map(|u| parse_endpoint(u.as_ref()).ok())
        {
            if !endpoints.iter().any(|(k, _)| *k == key) {
                endpoints.push((key, uri));
            }
        }
        Self { endpoints }
    }

    /// The endpoint keys (`host:port`).
    #[cfg(test)]
    fn keys(&self) -> impl Iterator<Item = &str> {
        self.endpoints.iter().map(|(k, _)| k.as_str())
    }

    /// One `Insert` per endpoint.
    pub(crate) fn into_changes(self) -> Vec<Change<String, Uri>> {
        self.endpoints
            .into_iter()
            .map(|(k, uri)| Change::Insert(k, uri))
            .collect()
    }
}

/// One endpoint URL as written in `endpoints`: its key (`host:port`) and URI,
/// or what is wrong with it and how to write it. The message shows the URL
/// with any `user:password@` masked: it reaches logs.
pub(crate) fn parse_endpoint(written: &str) -> Result<(String, Uri), String> {
    let written = written.trim();
    let url = boost_config::Endpoint::new(written);
    let uri: Uri = written.parse().map_err(|e: http::uri::InvalidUri| {
        format!(
            "{url:?} is not a URL ({}); write it like \"http://10.0.0.7:50052\"",
            url.mask_in(&e.to_string())
        )
    })?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(format!(
            "{url:?} needs a scheme and host, like \"http://10.0.0.7:50052\""
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "{url:?} uses {scheme}://; write http:// (plaintext h2c) or https:// (TLS)"
        ));
    }
    if authority.as_str().contains('@') {
        return Err(format!(
            "{url:?} carries credentials (user:password@), which gRPC does not send; \
             write the URL without them and put credentials in call metadata"
        ));
    }
    Ok((authority.to_string(), uri))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_an_endpoint_are_refused_without_being_shown() {
        for url in [
            "http://svc:CANARY_PW@10.0.0.7:50052",
            "https://svc:CANARY_PW@10.0.0.7:50052",
            "http://svc:CANARY_PW@[::1",
        ] {
            let Err(error) = parse_endpoint(url) else {
                panic!("{url} was accepted");
            };
            assert!(!error.contains("CANARY_PW"), "{error}");
            assert!(error.contains("***@"), "{error}");
        }
    }

    #[test]
    fn endpoints_are_keyed_by_authority_once_each() {
        let parsed = StaticEndpoints::parse([
            "http://10.0.0.7:50052",
            " http://10.0.0.7:50052 ",
            "http://10.0.0.8:50052",
            "not a url",
        ]);
        let keys: Vec<&str> = parsed.keys().collect();
        assert_eq!(keys, ["10.0.0.7:50052", "10.0.0.8:50052"]);
    }
}
