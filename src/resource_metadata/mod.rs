//! Protected resource metadata ([RFC 9728](https://www.rfc-editor.org/rfc/rfc9728)):
//! what an API publishes about itself — above all, which authorization
//! servers issue its tokens — read from its well-known URL (§3) or from the
//! URL its 401's `WWW-Authenticate: Bearer resource_metadata="…"` names
//! (§5), and checked to be about the resource asked for (§3.3). A client
//! that meets a 401 from an API learns from it where to get a token.

pub(crate) mod metadata;

use std::future::IntoFuture;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use url::Url;

use crate::config::discovery::{fetch_document, same_url};
use crate::config::{transport_setters, Settings};
use crate::endpoint::request::EndpointRequest;
use crate::endpoint::response::expect_status;
use crate::endpoint::www_authenticate::{challenges_from_headers, Challenge};
use crate::error::{Error, ErrorKind, Result};
use crate::into_url::IntoUrl;
use crate::options::{BoxFuture, Call, RequestOptions};
use crate::transport::{self, EndpointResponse};
use metadata::ProtectedResourceMetadata;

/// The well-known URI suffix of protected resource metadata (RFC 9728 §3).
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The well-known metadata URL of the resource identified by `resource`
/// (RFC 9728 §3.1): `/.well-known/oauth-protected-resource` inserted
/// between the host and the path. A path's trailing slash is kept: `…/api`
/// and `…/api/` are different resources.
///
/// A resource identifier with a fragment is refused (§1.2), and so is one
/// with a query (RFC 8707 §2: it should have none; the document's
/// `resource` is compared exactly, so a query would make every call to the
/// API a resource of its own): [`ErrorKind::InvalidInput`].
///
/// ```
/// use oidckit::protected_resource_metadata_url;
///
/// let api = "https://api.example.com/v1".parse()?;
/// assert_eq!(
///     protected_resource_metadata_url(&api)?.as_str(),
///     "https://api.example.com/.well-known/oauth-protected-resource/v1"
/// );
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn protected_resource_metadata_url(resource: &Url) -> Result<Url> {
    let refuse = |what: &str| {
        Err(Error::invalid_input(format!(
            "the resource identifier {:?} has a {what} (RFC 9728 §1.2, RFC 8707 §2)",
            resource.as_str()
        )))
    };
    if resource.fragment().is_some() {
        return refuse("fragment");
    }
    if resource.query().is_some() {
        return refuse("query");
    }
    let mut url = resource.clone();
    match resource.path() {
        "/" | "" => url.set_path(WELL_KNOWN),
        path => url.set_path(&format!("{WELL_KNOWN}{path}")),
    }
    Ok(url)
}

/// Builds the request for a protected resource's metadata (the low-level
/// half of [`discover_protected_resource`]): a `GET` of `metadata_url` — the
/// `resource_metadata` URL of a `WWW-Authenticate` challenge (RFC 9728
/// §5.1), used as it is — or, without one, of the well-known URL of
/// `resource` ([`protected_resource_metadata_url`]); `https:` only unless
/// `allow_insecure_requests`.
pub fn build_resource_discovery_request(
    resource: &Url,
    metadata_url: Option<&Url>,
    allow_insecure_requests: bool,
) -> Result<EndpointRequest> {
    let url = match metadata_url {
        Some(url) => url.clone(),
        None => protected_resource_metadata_url(resource)?,
    };
    transport::check_url(&url, allow_insecure_requests)?;
    Ok(EndpointRequest::get_json(url))
}

/// Processes the response to [`build_resource_discovery_request`]: a 200
/// with a JSON object that is valid protected resource metadata
/// ([`ErrorKind::InvalidMetadata`] otherwise) whose `resource` is
/// `expected_resource` ([`ErrorKind::ResourceMismatch`] otherwise).
///
/// RFC 9728 §3.3: the `resource` must be the resource identifier the
/// well-known URL was made from, or — for metadata found through a
/// `WWW-Authenticate` challenge — the URL of the request that was
/// challenged. Both are compared as parsed URLs, as issuers are.
pub fn process_resource_discovery_response(
    expected_resource: &Url,
    response: &EndpointResponse,
) -> Result<ProtectedResourceMetadata> {
    let with_context = |e: Error| e.with_response_context(response.url(), response.status());
    expect_status(response, StatusCode::OK).map_err(with_context)?;
    let map = transport::json_object(response.headers(), response.body()).map_err(with_context)?;
    let metadata: ProtectedResourceMetadata =
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
            with_context(
                Error::new(
                    ErrorKind::InvalidMetadata,
                    "invalid protected resource metadata",
                )
                .with_source(e),
            )
        })?;
    if !same_url(expected_resource, &metadata.resource) {
        return Err(with_context(Error::resource_mismatch(
            expected_resource.as_str(),
            &metadata.resource,
        )));
    }
    Ok(metadata)
}

/// Fetches the metadata of the protected resource `resource` (RFC 9728):
/// await the returned [`ResourceDiscovery`], after changing its settings if
/// needed.
///
/// By default the document is read from the resource's well-known URL
/// (§3.1). After a 401 whose `WWW-Authenticate` challenge names a
/// `resource_metadata` URL (§5.1), pass the challenges
/// ([`challenges`](ResourceDiscovery::challenges), from an [`Error`] of
/// [`fetch_protected_resource`](crate::fetch_protected_resource), or
/// [`www_authenticate`](ResourceDiscovery::www_authenticate), from a
/// response's headers) with `resource` the URL that was called: that URL is
/// fetched instead, and the document must be about the URL called (§3.3).
///
/// Then [`ProtectedResourceMetadata::discovery`] discovers the
/// authorization server that issues the resource's tokens.
///
/// ```no_run
/// use oidckit::{client_credentials_grant, discover_protected_resource, ClientAuth};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let api = "https://api.example.com/v1/items";
/// let http = oidckit::http_client_builder().build()?;
/// let response = http.get(api).send().await?;
/// if response.status() == 401 {
///     let resource = discover_protected_resource(api)
///         .www_authenticate(response.headers())
///         .await?;
///     let config = resource.discovery("my-service", ClientAuth::client_secret_basic("s3cr3t")).await?;
///     let token = client_credentials_grant(&config, &[("resource", resource.resource.as_str())], None).await?;
/// }
/// # Ok(()) }
/// ```
pub fn discover_protected_resource(resource: impl IntoUrl) -> ResourceDiscovery {
    ResourceDiscovery {
        resource: resource.into_url(),
        metadata_url: None,
        settings: Settings::default(),
        options: RequestOptions::default(),
    }
}

/// A protected resource metadata request, ready to start: await it for the
/// [`ProtectedResourceMetadata`]. Its setters never fail; problems are
/// reported when it is awaited.
#[derive(Debug)]
#[must_use = "discovery does nothing until it is awaited"]
pub struct ResourceDiscovery {
    resource: Result<Url>,
    metadata_url: Option<Result<Url>>,
    settings: Settings,
    options: RequestOptions,
}

impl ResourceDiscovery {
    /// Reads the metadata from `url` instead of the well-known URL: the
    /// `resource_metadata` of a `WWW-Authenticate` challenge (RFC 9728
    /// §5.1).
    pub fn metadata_url(mut self, url: impl IntoUrl) -> Self {
        self.metadata_url = Some(url.into_url());
        self
    }

    /// Reads the metadata from the `resource_metadata` URL of the first of
    /// `challenges` that has one (RFC 9728 §5.1), e.g. an [`Error`]'s
    /// [`challenges`](Error::challenges); from the well-known URL if none
    /// has.
    pub fn challenges(self, challenges: &[Challenge]) -> Self {
        match challenges.iter().find_map(Challenge::resource_metadata) {
            Some(url) => self.metadata_url(url),
            None => self,
        }
    }

    /// As [`challenges`](Self::challenges), with those of the
    /// `WWW-Authenticate` headers of a response.
    pub fn www_authenticate(self, headers: &HeaderMap) -> Self {
        self.challenges(&challenges_from_headers(headers))
    }

    /// The options of the request (timeout, deadline, cancellation, extra
    /// headers).
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }

    transport_setters!();
}

impl IntoFuture for ResourceDiscovery {
    type Output = Result<ProtectedResourceMetadata>;
    type IntoFuture = BoxFuture<'static, Result<ProtectedResourceMetadata>>;

    fn into_future(self) -> Self::IntoFuture {
        let ResourceDiscovery {
            resource,
            metadata_url,
            settings,
            options,
        } = self;
        Call::new(move |options: RequestOptions| async move {
            let resource = resource?;
            let metadata_url = metadata_url.transpose()?;
            let client = settings.http_client()?;
            let request = build_resource_discovery_request(
                &resource,
                metadata_url.as_ref(),
                settings.allow_insecure_requests,
            )?;
            let response =
                fetch_document(&settings, &client, request, &options, "resource_metadata").await?;
            process_resource_discovery_response(&resource, &response)
        })
        .options(options)
        .into_future()
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderValue, CONTENT_TYPE};

    use super::*;

    fn u(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn well_known_url_is_inserted_between_host_and_path() {
        let cases = [
            (
                "https://rs.example",
                "https://rs.example/.well-known/oauth-protected-resource",
            ),
            (
                "https://rs.example/",
                "https://rs.example/.well-known/oauth-protected-resource",
            ),
            (
                "https://rs.example/api",
                "https://rs.example/.well-known/oauth-protected-resource/api",
            ),
            (
                "https://rs.example/api/",
                "https://rs.example/.well-known/oauth-protected-resource/api/",
            ),
            (
                "https://rs.example:8443/a/b",
                "https://rs.example:8443/.well-known/oauth-protected-resource/a/b",
            ),
        ];
        for (resource, expected) in cases {
            let url = protected_resource_metadata_url(&u(resource)).unwrap();
            assert_eq!(url.as_str(), expected, "{resource}");
        }
        for refused in ["https://rs.example/api?v=1", "https://rs.example/api#x"] {
            let e = protected_resource_metadata_url(&u(refused)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{refused}");
        }
    }

    fn answer(url: &str, status: u16, body: &str) -> EndpointResponse {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        EndpointResponse::new(
            u(url),
            StatusCode::from_u16(status).unwrap(),
            headers,
            body.to_owned(),
        )
    }

    #[test]
    fn low_level_pair_without_io() {
        let resource = u("https://rs.example/api");
        let request = build_resource_discovery_request(&resource, None, false).unwrap();
        assert_eq!(request.method(), reqwest::Method::GET);
        assert_eq!(
            request.url().as_str(),
            "https://rs.example/.well-known/oauth-protected-resource/api"
        );
        assert_eq!(request.headers()["accept"], "application/json");
        // A challenge's URL is used as it is, even with a query.
        let named = u("https://meta.example/rs?id=7");
        let request = build_resource_discovery_request(&resource, Some(&named), false).unwrap();
        assert_eq!(request.url(), &named);
        let insecure = u("http://rs.example/api");
        let e = build_resource_discovery_request(&insecure, None, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InsecureUrl);
        assert!(build_resource_discovery_request(&insecure, None, true).is_ok());

        let url = "https://rs.example/.well-known/oauth-protected-resource/api";
        let good = r#"{"resource":"https://RS.example/api","authorization_servers":["https://as.example"]}"#;
        let m = process_resource_discovery_response(&resource, &answer(url, 200, good)).unwrap();
        assert_eq!(
            m.authorization_servers.unwrap()[0].host_str(),
            Some("as.example")
        );

        let kind = |body: &str, status: u16| {
            process_resource_discovery_response(&resource, &answer(url, status, body))
                .unwrap_err()
                .kind()
        };
        assert_eq!(
            kind(r#"{"resource":"https://rs.example/other"}"#, 200),
            ErrorKind::ResourceMismatch
        );
        assert_eq!(
            kind(r#"{"resource":"https://rs.example/api/"}"#, 200),
            ErrorKind::ResourceMismatch
        );
        assert_eq!(
            kind(r#"{"resource":"not a url"}"#, 200),
            ErrorKind::ResourceMismatch
        );
        assert_eq!(
            kind(
                r#"{"resource":"https://rs.example/api","scopes_supported":"read"}"#,
                200
            ),
            ErrorKind::InvalidMetadata
        );
        assert_eq!(kind(r#"[1]"#, 200), ErrorKind::InvalidResponse);
        assert_eq!(kind(r#"{"error":"nope"}"#, 404), ErrorKind::OAuth);
        assert_eq!(kind("", 404), ErrorKind::UnexpectedStatus);
        let e = process_resource_discovery_response(
            &resource,
            &answer(url, 200, r#"{"resource":"https://evil.example/api"}"#),
        )
        .unwrap_err();
        let message = e.to_string();
        assert!(
            message.contains("https://evil.example/api")
                && message.contains("https://rs.example/api"),
            "{message}"
        );
        assert_eq!(e.url().map(Url::as_str), Some(url));
    }

    #[test]
    fn challenges_choose_the_metadata_url() {
        let challenges = crate::parse_www_authenticate(
            r#"DPoP algs="ES256", Bearer resource_metadata="https://rs.example/meta""#,
        );
        let d = discover_protected_resource("https://rs.example/api").challenges(&challenges);
        assert_eq!(
            d.metadata_url.unwrap().unwrap().as_str(),
            "https://rs.example/meta"
        );
        let d = discover_protected_resource("https://rs.example/api")
            .challenges(&crate::parse_www_authenticate("Bearer realm=\"x\""));
        assert!(d.metadata_url.is_none());
    }
}
