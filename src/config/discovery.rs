//! Discovery: fetch the authorization server's metadata from its well-known
//! URL ([RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3),
//! [OpenID Connect Discovery 1.0 §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig))
//! and check that it describes the issuer asked for.

use std::future::IntoFuture;

use reqwest::StatusCode;
use url::Url;

use crate::client_auth::ClientAuth;
use crate::config::metadata::ServerMetadata;
use crate::config::{settings_setters, Configuration, Settings};
use crate::endpoint::request::{EndpointRequest, LIBRARY_HEADERS};
use crate::endpoint::response::expect_status;
use crate::error::{Error, ErrorKind, Result};
use crate::into_url::IntoUrl;
use crate::options::{Accepts, BoxFuture, Call, RequestOptions};
use crate::transport::{self, EndpointResponse};

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
    if names_the_document(issuer) {
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
/// client: await the returned [`Discovery`], after changing its settings if
/// needed (the same setters as [`ConfigurationBuilder`](crate::ConfigurationBuilder),
/// the well-known URL rule, and the call's [`RequestOptions`]).
///
/// The document's `issuer` must equal `issuer` (compared as parsed URLs, so
/// `https://as.example` equals `https://as.example/` but `https://as.example/o`
/// does not equal `https://as.example/o/`), else
/// [`ErrorKind::IssuerMismatch`](crate::ErrorKind::IssuerMismatch).
///
/// ```no_run
/// use std::time::Duration;
/// use oidckit::{ClientAuth, DiscoveryAlgorithm};
///
/// # async fn run() -> Result<(), oidckit::Error> {
/// let config = oidckit::discovery("https://as.example.com", "my-service", ClientAuth::client_secret_basic("s3cr3t"))
///     .await?;
///
/// let config = oidckit::discovery("https://as.example.com/tenant", "my-service", ClientAuth::none())
///     .algorithm(DiscoveryAlgorithm::OAuth2)
///     .timeout(Duration::from_secs(5))
///     .await?;
/// # Ok(()) }
/// ```
pub fn discovery(
    issuer: impl IntoUrl,
    client_id: impl Into<String>,
    auth: ClientAuth,
) -> Discovery {
    discovery_of(issuer.into_url(), client_id.into(), auth)
}

/// A discovery of `issuer` (or of nothing, failing when awaited).
pub(crate) fn discovery_of(issuer: Result<Url>, client_id: String, auth: ClientAuth) -> Discovery {
    Discovery {
        issuer,
        client_id,
        auth,
        algorithm: DiscoveryAlgorithm::default(),
        settings: Settings::default(),
        options: RequestOptions::default(),
    }
}

/// A discovery, ready to start: await it for the [`Configuration`]. Its
/// setters never fail; problems are reported when it is awaited.
#[derive(Debug)]
#[must_use = "discovery does nothing until it is awaited"]
pub struct Discovery {
    issuer: Result<Url>,
    client_id: String,
    auth: ClientAuth,
    algorithm: DiscoveryAlgorithm,
    settings: Settings,
    options: RequestOptions,
}

impl Discovery {
    /// Which well-known URL to read (default [`DiscoveryAlgorithm::Oidc`]).
    pub fn algorithm(mut self, algorithm: DiscoveryAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The options of the discovery request itself (timeout, deadline,
    /// cancellation, extra headers).
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }

    settings_setters!();
}

impl IntoFuture for Discovery {
    type Output = Result<Configuration>;
    type IntoFuture = BoxFuture<'static, Result<Configuration>>;

    fn into_future(self) -> Self::IntoFuture {
        let Discovery {
            issuer,
            client_id,
            auth,
            algorithm,
            mut settings,
            options,
        } = self;
        Call::new(move |options: RequestOptions| async move {
            let issuer = issuer?;
            // One client for discovery and every later request of the configuration.
            let client = settings.http_client()?;
            settings.http_client = Some(client.clone());
            let request =
                build_discovery_request(&issuer, algorithm, settings.allow_insecure_requests)?;
            let response =
                fetch_document(&settings, &client, request, &options, "discovery").await?;
            let server = process_discovery_response(&issuer, &response)?;
            Configuration::builder(server, client_id, auth)
                .with_settings(settings)
                .build()
        })
        .options(options)
        .into_future()
    }
}

/// GETs a metadata document (an authorization server's, RFC 8414; a
/// protected resource's, RFC 9728) under the transport rules, with the
/// headers of `options` (which may not set the library's own).
pub(crate) async fn fetch_document(
    settings: &Settings,
    client: &reqwest::Client,
    mut request: EndpointRequest,
    options: &RequestOptions,
    span: &'static str,
) -> Result<EndpointResponse> {
    options.check(Accepts {
        form_params: false,
        dpop: false,
        owned_headers: &LIBRARY_HEADERS,
    })?;
    for (name, value) in &options.headers {
        request.headers_mut().append(name.clone(), value.clone());
    }
    transport::execute(
        &settings.transport(client),
        request.into_reqwest(client)?,
        span,
        options.timeout,
    )
    .await
}

/// Whether a URL given as the issuer is the metadata document's own.
fn names_the_document(url: &Url) -> bool {
    url.path().contains("/.well-known/")
}

/// Builds the discovery request (the low-level half of [`discovery`]): a
/// `GET` of the well-known URL of `issuer`, `https:` only unless
/// `allow_insecure_requests`.
pub fn build_discovery_request(
    issuer: &Url,
    algorithm: DiscoveryAlgorithm,
    allow_insecure_requests: bool,
) -> Result<EndpointRequest> {
    let url = well_known_url(issuer, algorithm);
    transport::check_url(&url, allow_insecure_requests)?;
    Ok(EndpointRequest::get_json(url))
}

/// Processes a discovery response (the low-level half of [`discovery`]): a
/// 200 with a JSON object that is valid server metadata
/// ([`ErrorKind::InvalidMetadata`](crate::ErrorKind::InvalidMetadata)
/// otherwise) about `issuer` ([`ErrorKind::IssuerMismatch`](crate::ErrorKind::IssuerMismatch)
/// otherwise).
pub fn process_discovery_response(
    issuer: &Url,
    response: &EndpointResponse,
) -> Result<ServerMetadata> {
    let with_context = |e: Error| e.with_response_context(response.url(), response.status());
    expect_status(response, StatusCode::OK).map_err(with_context)?;
    let map = transport::json_object(response.headers(), response.body()).map_err(with_context)?;
    let server: ServerMetadata =
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
            with_context(
                Error::new(ErrorKind::InvalidMetadata, "invalid server metadata").with_source(e),
            )
        })?;
    // A URL given with /.well-known/ in it names the document, not the
    // issuer: there is nothing to compare with (openid-client does the same).
    // Decided from the issuer, as `well_known_url` does, never from the
    // response: a caller's own response URL must not switch the check off.
    if names_the_document(issuer) {
        return Ok(server);
    }
    check_issuer(issuer, &server.issuer)?;
    Ok(server)
}

/// The mix-up defence of RFC 8414 §3.3: the document must be about the issuer
/// the caller asked for.
fn check_issuer(expected: &Url, found: &str) -> Result<()> {
    if same_url(expected, found) {
        Ok(())
    } else {
        Err(Error::issuer_mismatch(expected.as_str(), found))
    }
}

/// Whether `found` is the URL `expected`, compared as parsed URLs (so
/// `https://as.example` is `https://as.example/`, and the host's case does
/// not matter); the identifier rule of RFC 8414 §3.3 and RFC 9728 §3.3.
pub(crate) fn same_url(expected: &Url, found: &str) -> bool {
    Url::parse(found).is_ok_and(|found| found.as_str() == expected.as_str())
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

    fn answer(url: &str, body: &str) -> EndpointResponse {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        EndpointResponse::new(u(url), StatusCode::OK, headers, body.to_owned())
    }

    #[test]
    fn low_level_pair_without_io() {
        let issuer = u("https://as.example/tenant");
        let request = build_discovery_request(&issuer, DiscoveryAlgorithm::Oidc, false).unwrap();
        assert_eq!(request.method(), reqwest::Method::GET);
        assert_eq!(
            request.url().as_str(),
            "https://as.example/tenant/.well-known/openid-configuration"
        );
        assert_eq!(request.headers()["accept"], "application/json");
        let insecure = u("http://as.example");
        let e = build_discovery_request(&insecure, DiscoveryAlgorithm::Oidc, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InsecureUrl);
        assert!(build_discovery_request(&insecure, DiscoveryAlgorithm::Oidc, true).is_ok());

        let good =
            r#"{"issuer":"https://as.example/tenant","token_endpoint":"https://as.example/t"}"#;
        let url = request.url().as_str();
        let metadata = process_discovery_response(&issuer, &answer(url, good)).unwrap();
        assert_eq!(metadata.issuer, "https://as.example/tenant");
        // The mix-up defence does not depend on the response's URL: a
        // response recorded under the issuer's own URL is still checked.
        let other = r#"{"issuer":"https://evil.example","token_endpoint":"https://as.example/t"}"#;
        let e = process_discovery_response(&issuer, &answer(issuer.as_str(), other)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IssuerMismatch);
        // Only an issuer that names the document itself skips it.
        let document = u("https://as.example/.well-known/openid-configuration");
        assert!(process_discovery_response(&document, &answer(document.as_str(), other)).is_ok());
        let e =
            process_discovery_response(&issuer, &answer(url, r#"{"token_endpoint":"https://x"}"#))
                .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidMetadata);
        assert!(std::error::Error::source(&e).is_some());
    }
}
