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
            let url = url.as_ref().trim();
            let uri: Uri = url.parse().map_err(|e| {
                RpcError::Config(format!(
                    "endpoints: {url:?} is not a URL ({e}); write it like \"http://10.0.0.7:50052\""
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
