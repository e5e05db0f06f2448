//! [`StaticEndpoints`]: a fixed list of endpoint URLs.

use http::Uri;
use tower::discover::Change;

use crate::RpcError;

/// A fixed list of endpoints, parsed and checked up front.
///
/// ```
/// use boost_rpc::client::discover::StaticEndpoints;
///
/// let endpoints = StaticEndpoints::parse(["http://127.0.0.1:50052"]).unwrap();
/// assert_eq!(endpoints.keys().collect::<Vec<_>>(), ["127.0.0.1:50052"]);
/// assert!(StaticEndpoints::parse(["127.0.0.1 50052"]).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct StaticEndpoints {
    endpoints: Vec<(String, Uri)>,
}

impl StaticEndpoints {
    /// Parses `http://host:port` URLs; an error names the bad one.
    pub fn parse<I, S>(urls: I) -> Result<Self, RpcError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut endpoints: Vec<(String, Uri)> = Vec::new();
        for url in urls {
            let written = url.as_ref().trim();
            // Shown with any `user:password@` masked: these messages reach logs.
            let url = boost_config::Endpoint::new(written);
            let uri: Uri = written.parse().map_err(|e: http::uri::InvalidUri| {
                RpcError::Config(format!(
                    "endpoints: {url:?} is not a URL ({}); write it like \"http://10.0.0.7:50052\"",
                    url.mask_in(&e.to_string())
                ))
            })?;
            let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
                return Err(RpcError::Config(format!(
                    "endpoints: {url:?} needs a scheme and host, like \"http://10.0.0.7:50052\""
                )));
            };
            if scheme != "http" {
                return Err(RpcError::Config(format!(
                    "endpoints: {url:?} uses {scheme}://; only http:// (plaintext h2c) is supported"
                )));
            }
            if authority.as_str().contains('@') {
                return Err(RpcError::Config(format!(
                    "endpoints: {url:?} carries credentials (user:password@), which gRPC does \
                     not send; write the URL without them and put credentials in call metadata"
                )));
            }
            let key = authority.to_string();
            if !endpoints.iter().any(|(k, _)| *k == key) {
                endpoints.push((key, uri));
            }
        }
        Ok(Self { endpoints })
    }

    /// The endpoint keys (`host:port`).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.endpoints.iter().map(|(k, _)| k.as_str())
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// One `Insert` per endpoint.
    pub fn into_changes(self) -> Vec<Change<String, Uri>> {
        self.endpoints
            .into_iter()
            .map(|(k, uri)| Change::Insert(k, uri))
            .collect()
    }
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
            let Err(error) = StaticEndpoints::parse([url]) else {
                panic!("{url} was accepted");
            };
            let error = error.to_string();
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
        ])
        .unwrap();
        let keys: Vec<&str> = parsed.keys().collect();
        assert_eq!(keys, ["10.0.0.7:50052", "10.0.0.8:50052"]);
    }
}
