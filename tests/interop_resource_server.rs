//! The receiving end against the real oidc-provider: an axum API of this
//! test, protected by `ResourceServer` (through `ProtectedRequest`), takes
//! the provider's JWT access tokens (RFC 9068, ES256, `aud`
//! `urn:oidckit:api`) and opaque ones (introspected), called by oidckit's
//! own `fetch_protected_resource` and `TokenMiddleware` with Bearer and
//! DPoP tokens (with the API's own nonces); and certificate-bound tokens
//! the provider issues over mutual TLS, checked against the presented
//! certificate.

#![cfg(feature = "middleware")]

#[path = "support/certs.rs"]
mod certs;
#[path = "support/oidc_provider.rs"]
mod oidc_provider;
mod support;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use oidc_provider::{client, OidcProvider};
use oidckit::reqwest::Method;
use oidckit::{
    certificate_thumbprint, client_credentials_grant, discovery, fetch_protected_resource,
    AccessToken, ClientAuth, ClientCertificate, Configuration, DPoPHandle, DPoPNonces,
    IntrospectionCacheSettings, JwsAlgorithm, ProtectedRequest, Rejection, RequestOptions,
    ResourceServer, TokenManager, Url,
};
use serde_json::json;

const API: &str = "urn:oidckit:api";
const OPAQUE: &str = "urn:oidckit:opaque";

async fn items(
    State(api): State<ResourceServer>,
    request: ProtectedRequest,
) -> Result<String, Rejection> {
    api.require_scopes(&request, &["read"])?;
    Ok(format!(
        "items for {} ({:?})",
        request.claims.client_id().unwrap_or("?"),
        request.scheme
    ))
}

/// Serves `api` at `/items` on a free loopback port; returns its URL.
async fn serve(api: ResourceServer, listener: tokio::net::TcpListener) {
    let app = Router::new().route("/items", get(items)).with_state(api);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
}

struct Setup {
    _server: OidcProvider,
    caller: Configuration,
    jwt_api: Url,
    opaque_api: Url,
}

async fn setup() -> Setup {
    let server = OidcProvider::start(
        vec![
            client(
                "caller",
                "client_secret_basic",
                json!({"client_secret": "caller-secret", "scope": "read write"}),
            ),
            client(
                "items-api",
                "client_secret_basic",
                json!({"client_secret": "api-secret"}),
            ),
        ],
        None,
    );
    let caller = discovery(
        server.issuer.clone(),
        "caller",
        ClientAuth::client_secret_basic("caller-secret"),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap();
    let as_config = discovery(
        server.issuer.clone(),
        "items-api",
        ClientAuth::client_secret_basic("api-secret"),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap();
    let mut urls = Vec::new();
    for (audience, opaque) in [(API, false), (OPAQUE, true)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base: Url = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let mut builder = ResourceServer::builder(as_config.clone(), audience)
            .base_url(base.clone())
            .dpop_nonces(DPoPNonces::random().unwrap());
        if opaque {
            builder = builder.introspect_opaque_tokens(IntrospectionCacheSettings::default());
        }
        serve(builder.build(), listener).await;
        urls.push(base.join("/items").unwrap());
    }
    Setup {
        _server: server,
        caller,
        opaque_api: urls.pop().unwrap(),
        jwt_api: urls.pop().unwrap(),
    }
}

async fn token(s: &Setup, resource: &str, dpop: Option<&DPoPHandle>) -> AccessToken {
    client_credentials_grant(
        &s.caller,
        &[("scope", "read"), ("resource", resource)],
        dpop,
    )
    .await
    .unwrap()
    .access_token()
    .clone()
}

#[tokio::test]
async fn bearer_and_dpop_jwt_access_tokens_of_the_provider() {
    let s = setup().await;
    // Bearer.
    let bearer = token(&s, API, None).await;
    assert_eq!(support::jwt_header(bearer.secret())["typ"], "at+jwt");
    let response = fetch_protected_resource(&s.caller, &bearer, Method::GET, s.jwt_api.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "items for caller (Bearer)");

    // DPoP-bound: the API's nonce first, then 200.
    let dpop = DPoPHandle::generate(&s.caller, JwsAlgorithm::ES256).unwrap();
    let bound = token(&s, API, Some(&dpop)).await;
    assert_eq!(
        support::jwt_claims(bound.secret())["cnf"]["jkt"],
        dpop.thumbprint()
    );
    let response = fetch_protected_resource(&s.caller, &bound, Method::GET, s.jwt_api.clone())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "items for caller (DPoP)");
    assert!(dpop.nonce(&s.jwt_api).is_some());
    // As Bearer: refused (RFC 9449 §7.2).
    let e = fetch_protected_resource(&s.caller, &bound, Method::GET, s.jwt_api.clone())
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token");

    // A token for another resource.
    let other = token(&s, OPAQUE, None).await;
    let e = fetch_protected_resource(&s.caller, &other, Method::GET, s.jwt_api.clone())
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
}

#[tokio::test]
async fn the_token_manager_middleware_with_dpop() {
    let s = setup().await;
    let dpop = DPoPHandle::generate(&s.caller, JwsAlgorithm::ES256).unwrap();
    let tokens = TokenManager::builder(s.caller.clone())
        .scope("read")
        .resource(API)
        .dpop(dpop)
        .build();
    let http = reqwest_middleware::ClientBuilder::new(oidckit::reqwest::Client::new())
        .with(oidckit::TokenMiddleware::new(tokens))
        .build();
    for _ in 0..3 {
        let response = http.get(s.jwt_api.clone()).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "items for caller (DPoP)");
    }
}

#[tokio::test]
async fn opaque_tokens_through_introspection() {
    let s = setup().await;
    let opaque = token(&s, OPAQUE, None).await;
    assert_eq!(opaque.secret().split('.').count(), 1, "opaque");
    for _ in 0..3 {
        let response =
            fetch_protected_resource(&s.caller, &opaque, Method::GET, s.opaque_api.clone())
                .await
                .unwrap();
        assert_eq!(response.status(), 200);
    }
    let e = fetch_protected_resource(
        &s.caller,
        &AccessToken::new("not-a-token-of-the-provider".into()),
        Method::GET,
        s.opaque_api.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
}

/// Serves `api` at `/items` over mutual TLS on a free loopback port: the
/// server asks for a client certificate (any: the binding is checked
/// against the token, not a CA) and hands it to `ProtectedRequest` as the
/// `ClientCertificate` extension, as a TLS-terminating layer would.
fn serve_mtls(listener: tokio::net::TcpListener, api: ResourceServer, server: &certs::Issued) {
    use hyper_util::rt::TokioIo;
    use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVerifyMode};
    use tower::ServiceExt as _;

    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    acceptor.set_certificate(&server.cert).unwrap();
    acceptor.set_private_key(&server.key).unwrap();
    acceptor.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
    let acceptor = acceptor.build();
    let app = Router::new().route("/items", get(items)).with_state(api);
    tokio::spawn(async move {
        // Ends with the test's runtime.
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let ssl = Ssl::new(acceptor.context()).unwrap();
                let mut tls = tokio_openssl::SslStream::new(ssl, tcp).unwrap();
                if std::pin::Pin::new(&mut tls).accept().await.is_err() {
                    return;
                }
                let certificate = tls.ssl().peer_certificate().and_then(|c| c.to_der().ok());
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let mut request = request.map(axum::body::Body::new);
                        if let Some(der) = &certificate {
                            request
                                .extensions_mut()
                                .insert(ClientCertificate(der.clone()));
                        }
                        app.clone().oneshot(request)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
}

/// Certificate-bound tokens (RFC 8705 §3): the provider over HTTPS, the
/// client authenticated by its certificate; the API, over mutual TLS too,
/// takes the token only over a connection with that certificate.
#[tokio::test]
async fn certificate_bound_tokens_of_the_provider() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::ca();
    let server_cert = certs::server(&ca);
    let client_cert = certs::client("mtls-client", Some(&ca));
    let write = |name: &str, data: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        path.to_string_lossy().into_owned()
    };
    let env = [
        (
            "INTEROP_TLS_CERT",
            write("server.pem", server_cert.cert_pem()),
        ),
        (
            "INTEROP_TLS_KEY",
            write("server.key", server_cert.key_pem()),
        ),
        ("INTEROP_TLS_CA", write("ca.pem", ca.cert_pem())),
    ];
    let server = OidcProvider::start_with_env(
        vec![
            client(
                "mtls-client",
                "tls_client_auth",
                json!({"tls_client_auth_subject_dn": "CN=mtls-client,O=oidckit,C=US",
                       "tls_client_certificate_bound_access_tokens": true}),
            ),
            client(
                "items-api",
                "client_secret_basic",
                json!({"client_secret": "api-secret"}),
            ),
        ],
        &env,
    );
    let ca_root = oidckit::reqwest::Certificate::from_pem(&ca.cert_pem()).unwrap();
    let with_certificate = |cert: &certs::Issued| {
        oidckit::mtls_client_builder_from_pem(&cert.cert_pem(), &cert.key_pem())
            .unwrap()
            .add_root_certificate(ca_root.clone())
            .build()
            .unwrap()
    };
    let caller = discovery(
        server.issuer.clone(),
        "mtls-client",
        ClientAuth::tls_client_auth(),
    )
    .http_client(with_certificate(&client_cert))
    .client_metadata(oidckit::ClientMetadata::default().with_mtls_endpoint_aliases())
    .await
    .unwrap();
    let token = client_credentials_grant(&caller, &[("scope", "read"), ("resource", API)], None)
        .await
        .unwrap();
    let thumbprint = certificate_thumbprint(&client_cert.cert_pem()).unwrap();
    assert_eq!(
        support::jwt_claims(token.access_token().secret())["cnf"]["x5t#S256"],
        thumbprint
    );

    let as_config = discovery(
        server.issuer.clone(),
        "items-api",
        ClientAuth::client_secret_basic("api-secret"),
    )
    .http_client(
        oidckit::http_client_builder()
            .add_root_certificate(ca_root.clone())
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base: Url = format!("https://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let api = ResourceServer::builder(as_config, API)
        .base_url(base.clone())
        .build();
    serve_mtls(listener, api, &server_cert);
    let api_url = base.join("/items").unwrap();

    // Over a connection with the client's certificate: accepted.
    let response =
        fetch_protected_resource(&caller, token.access_token(), Method::GET, api_url.clone())
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "items for mtls-client (Bearer)"
    );

    // The same token over a connection with another certificate, or none:
    // refused.
    let someone_else = certs::client("someone-else", Some(&ca));
    let thief_http = [
        with_certificate(&someone_else),
        oidckit::http_client_builder()
            .add_root_certificate(ca_root.clone())
            .build()
            .unwrap(),
    ];
    for http in thief_http {
        let thief = discovery(
            server.issuer.clone(),
            "items-api",
            ClientAuth::client_secret_basic("api-secret"),
        )
        .http_client(http)
        .await
        .unwrap();
        let e =
            fetch_protected_resource(&thief, token.access_token(), Method::GET, api_url.clone())
                .await
                .unwrap_err();
        assert_eq!(e.oauth_error().unwrap().error, "invalid_token", "{e}");
    }
}
