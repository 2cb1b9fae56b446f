//! Discovery: fetch the authorization server's metadata from its well-known
//! URL ([RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3),
//! [OpenID Connect Discovery 1.0 §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig))
//! and check that it describes the issuer asked for.

use reqwest::header::{HeaderValue, ACCEPT};
use reqwest::StatusCode;
use url::Url;

use crate::client_auth::ClientAuth;
use crate::config::metadata::ServerMetadata;
use crate::config::{settings_setters, Configuration, Settings};
use crate::error::{Error, Result};
use crate::grants::response::error_from_response;
use crate::transport;

/// Which well-known URL to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryAlgorithm {
    /// OpenID Connect Discovery: append `/.well-known/openid-configuration`
    /// to the issuer's path (the default).
    #[default]
    Oidc,
    /// RFC 8414 §3.1: insert `/.well-known/oauth-authorization-server`
    /// between the host and the issuer's path.
    OAuth2,
}

/// Options of [`discovery_with`]: the well-known URL rule, plus every setting
/// of the resulting [`Configuration`] (the same setters as
/// [`ConfigurationBuilder`](crate::ConfigurationBuilder)).
///
/// ```
/// use std::time::Duration;
/// use oidckit::{DiscoveryAlgorithm, DiscoveryOptions};
///
/// let options = DiscoveryOptions::new()
///     .algorithm(DiscoveryAlgorithm::OAuth2)
///     .timeout(Duration::from_secs(5));
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct DiscoveryOptions {
    algorithm: DiscoveryAlgorithm,
    settings: Settings,
}

impl DiscoveryOptions {
    /// The defaults: OpenID Connect discovery, 30 s timeout, https only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which well-known URL to read (default [`DiscoveryAlgorithm::Oidc`]).
    pub fn algorithm(mut self, algorithm: DiscoveryAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    settings_setters!();
}

/// The metadata URL of `issuer`.
///
/// A URL that already contains `/.well-known/` is used as it is.
///
/// ```
/// use oidckit::{well_known_url, DiscoveryAlgorithm::*};
///
/// let issuer = "https://as.example.com/tenant".parse()?;
/// assert_eq!(
///     well_known_url(&issuer, Oidc).as_str(),
///     "https://as.example.com/tenant/.well-known/openid-configuration"
/// );
/// assert_eq!(
///     well_known_url(&issuer, OAuth2).as_str(),
///     "https://as.example.com/.well-known/oauth-authorization-server/tenant"
/// );
/// # Ok::<_, url::ParseError>(())
/// ```
pub fn well_known_url(issuer: &Url, algorithm: DiscoveryAlgorithm) -> Url {
    if issuer.path().contains("/.well-known/") {
        return issuer.clone();
    }
    let mut url = issuer.clone();
    url.set_query(None);
    url.set_fragment(None);
    let path = issuer.path().trim_end_matches('/');
    let new_path = match algorithm {
        DiscoveryAlgorithm::Oidc => format!("{path}/.well-known/openid-configuration"),
        DiscoveryAlgorithm::OAuth2 => format!("/.well-known/oauth-authorization-server{path}"),
    };
    url.set_path(&new_path);
    url
}

/// Discovers the server's metadata and builds a [`Configuration`] for the
/// client, with default settings (OpenID Connect discovery).
///
/// The document's `issuer` must equal `issuer` (compared as parsed URLs, so
/// `https://as.example` equals `https://as.example/` but `https://as.example/o`
/// does not equal `https://as.example/o/`), else [`ErrorKind::IssuerMismatch`](crate::ErrorKind::IssuerMismatch).
///
/// ```no_run
/// use oidckit::ClientAuth;
///
/// # async fn run() -> Result<(), oidckit::Error> {
/// let config = oidckit::discovery(
///     "https://as.example.com".parse().unwrap(),
///     "my-service",
///     ClientAuth::client_secret_basic("s3cr3t"),
/// ).await?;
/// # Ok(()) }
/// ```
pub async fn discovery(
    issuer: Url,
    client_id: impl Into<String>,
    auth: ClientAuth,
) -> Result<Configuration> {
    discovery_with(issuer, client_id, auth, DiscoveryOptions::default()).await
}

/// [`discovery`] with options.
pub async fn discovery_with(
    issuer: Url,
    client_id: impl Into<String>,
    auth: ClientAuth,
    options: DiscoveryOptions,
) -> Result<Configuration> {
    let DiscoveryOptions {
        algorithm,
        mut settings,
    } = options;
    // One client for discovery and every later request of the configuration.
    settings.http_client = Some(settings.http_client()?);
    let server = fetch_server_metadata(&issuer, algorithm, &settings).await?;
    Configuration::builder(server, client_id, auth)
        .with_settings(settings)
        .build()
}

async fn fetch_server_metadata(
    issuer: &Url,
    algorithm: DiscoveryAlgorithm,
    settings: &Settings,
) -> Result<ServerMetadata> {
    let url = well_known_url(issuer, algorithm);
    let client = settings.http_client()?;
    let request = client
        .get(url.clone())
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .build()
        .map_err(|e| Error::from_reqwest(Some(url.clone()), e))?;
    let response =
        transport::execute(&settings.transport(&client), request, "discovery", None).await?;
    let with_context = |e: Error| e.with_response_context(&url, response.status);
    if response.status != StatusCode::OK {
        return Err(with_context(error_from_response(
            response.status,
            &response.headers,
            &response.body,
        )));
    }
    let map = transport::json_object(&response.headers, &response.body).map_err(with_context)?;
    let server: ServerMetadata =
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
            with_context(Error::invalid_response(format!(
                "invalid server metadata: {e}"
            )))
        })?;
    // A URL given with /.well-known/ in it names the document, not the
    // issuer: there is nothing to compare with (openid-client does the same).
    if url == *issuer {
        return Ok(server);
    }
    check_issuer(issuer, &server.issuer)?;
    Ok(server)
}

/// The mix-up defence of RFC 8414 §3.3: the document must be about the issuer
/// the caller asked for.
fn check_issuer(expected: &Url, found: &str) -> Result<()> {
    let mismatch = || Error::issuer_mismatch(expected.as_str(), found);
    let found_url = Url::parse(found).map_err(|_| mismatch())?;
    if found_url.as_str() == expected.as_str() {
        Ok(())
    } else {
        Err(mismatch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn well_known_urls() {
        use DiscoveryAlgorithm::*;
        let cases = [
            (
                "https://as.example",
                Oidc,
                "https://as.example/.well-known/openid-configuration",
            ),
            (
                "https://as.example/",
                Oidc,
                "https://as.example/.well-known/openid-configuration",
            ),
            (
                "https://as.example/o",
                Oidc,
                "https://as.example/o/.well-known/openid-configuration",
            ),
            (
                "https://as.example/o/",
                Oidc,
                "https://as.example/o/.well-known/openid-configuration",
            ),
            (
                "https://as.example",
                OAuth2,
                "https://as.example/.well-known/oauth-authorization-server",
            ),
            (
                "https://as.example/o",
                OAuth2,
                "https://as.example/.well-known/oauth-authorization-server/o",
            ),
            (
                "https://as.example/o/",
                OAuth2,
                "https://as.example/.well-known/oauth-authorization-server/o",
            ),
            (
                "https://as.example/a/b",
                OAuth2,
                "https://as.example/.well-known/oauth-authorization-server/a/b",
            ),
            (
                "https://as.example/.well-known/custom",
                OAuth2,
                "https://as.example/.well-known/custom",
            ),
        ];
        for (issuer, alg, expected) in cases {
            assert_eq!(
                well_known_url(&u(issuer), alg).as_str(),
                expected,
                "{issuer} {alg:?}"
            );
        }
    }

    #[test]
    fn issuer_comparison_is_on_parsed_urls() {
        assert!(check_issuer(&u("https://as.example"), "https://as.example/").is_ok());
        assert!(check_issuer(&u("https://as.example/"), "https://as.example").is_ok());
        assert!(check_issuer(&u("https://AS.example"), "https://as.example").is_ok());
        assert!(check_issuer(&u("https://as.example/o"), "https://as.example/o/").is_err());
        assert!(check_issuer(&u("https://as.example"), "https://evil.example").is_err());
        let e = check_issuer(&u("https://as.example"), "not a url").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("https://as.example/") && msg.contains("not a url"),
            "{msg}"
        );
    }
}
