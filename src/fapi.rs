//! The FAPI 2.0 Security Profile switch
//! ([FAPI 2.0 Security Profile §5](https://openid.net/specs/fapi-security-profile-2_0-final.html)):
//! one setting ([`ConfigurationBuilder::fapi2_security_profile`](crate::ConfigurationBuilder::fapi2_security_profile),
//! [`EndpointContext::fapi2_security_profile`](crate::EndpointContext::fapi2_security_profile))
//! under which the client refuses whatever breaks the profile's client
//! rules, with an error that names the rule:
//!
//! - authorization requests are pushed (PAR) and carry a PKCE `S256`
//!   challenge (§5.3.2.2);
//! - client authentication is `private_key_jwt` or mutual TLS (§5.3.2.1),
//!   and client assertions have the issuer as their only audience;
//! - access tokens are sender-constrained: a DPoP handle, or mutual TLS
//!   (§5.3.2.2);
//! - the authorization response carries `iss` (RFC 9207, §5.3.2.2);
//! - JWTs are signed with `PS256`, `ES256` or `EdDSA` only (§5.4), ID Tokens,
//!   JARM responses, userinfo and client assertions alike;
//! - request objects live at most 60 s (§5.3.2.1; this crate's default).

use crate::client_auth::ClientAuth;
use crate::error::{Error, ErrorKind, Result};
use crate::jose::JwsAlgorithm;

/// The signature algorithms the profile allows (§5.4).
pub(crate) const ALGORITHMS: [JwsAlgorithm; 3] = [
    JwsAlgorithm::PS256,
    JwsAlgorithm::ES256,
    JwsAlgorithm::EdDSA,
];

fn broken(rule: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("the FAPI 2.0 Security Profile is on: {rule}"),
    )
}

/// Checked when a configuration is built (§5.3.2.1): the method, the
/// assertions' algorithm, and their audience, which must be the issuer
/// alone (the profile's fix for audience injection into `private_key_jwt`
/// assertions; FAPI 2.0 servers such as oidc-provider's profile refuse any
/// other `aud`).
pub(crate) fn check_client_auth(auth: &ClientAuth, issuer: &str) -> Result<()> {
    let allowed = matches!(
        auth.method_name(),
        "private_key_jwt" | "tls_client_auth" | "self_signed_tls_client_auth"
    );
    if !allowed {
        return Err(Error::invalid_configuration(format!(
            "the FAPI 2.0 Security Profile allows private_key_jwt or mutual TLS client authentication, not {}",
            auth.method_name()
        )));
    }
    if let Some(alg) = auth.signing_algorithm() {
        if !ALGORITHMS.contains(&alg) {
            return Err(Error::invalid_configuration(format!(
                "the FAPI 2.0 Security Profile allows PS256, ES256 or EdDSA client assertions, not {alg}"
            )));
        }
        if !auth.audience_is_issuer(issuer) {
            return Err(Error::invalid_configuration(
                "the FAPI 2.0 Security Profile wants the issuer identifier as the sole audience of client assertions: keep AssertionAudience::Issuer",
            ));
        }
    }
    Ok(())
}

/// A JWT from the server (ID Token, JARM, userinfo) signed with `alg`.
pub(crate) fn check_algorithm(alg: JwsAlgorithm, what: &str) -> Result<()> {
    if ALGORITHMS.contains(&alg) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::UnsupportedAlgorithm,
            format!("{what} is signed with {alg}; the FAPI 2.0 Security Profile allows PS256, ES256 or EdDSA"),
        ))
    }
}

/// An authorization request's parameters: PKCE with S256 (§5.3.2.2).
pub(crate) fn check_authorization_params(params: &[(String, String)]) -> Result<()> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    // A pushed request object carries its own parameters, checked when it
    // was built.
    if get("request").is_some() {
        return Ok(());
    }
    if get("code_challenge").is_none_or(str::is_empty)
        || get("code_challenge_method") != Some("S256")
    {
        return Err(broken(
            "the authorization request needs a PKCE code_challenge with code_challenge_method=S256",
        ));
    }
    Ok(())
}

/// Token requests that issue access tokens: sender-constrained (§5.3.2.2).
pub(crate) fn check_sender_constrained(auth: &ClientAuth, dpop: bool) -> Result<()> {
    let mtls = matches!(
        auth.method_name(),
        "tls_client_auth" | "self_signed_tls_client_auth"
    );
    if dpop || mtls {
        Ok(())
    } else {
        Err(broken(
            "access tokens must be sender-constrained: give the call a DPoP handle (RequestOptions::dpop) or use mutual TLS",
        ))
    }
}

/// The message for an unpushed authorization request.
pub(crate) fn par_required() -> Error {
    broken("authorization requests must be pushed: use build_authorization_url_with_par")
}

/// The message for an authorization response without `iss`.
pub(crate) fn iss_required() -> Error {
    Error::new(
        ErrorKind::IssuerMismatch,
        "the authorization response has no `iss`, which the FAPI 2.0 Security Profile requires (RFC 9207)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        authorization_code_grant, build_authorization_url, build_authorization_url_with_jar,
        build_authorization_url_with_par, validate_authorization_response, AssertionAudience,
        AuthorizationChecks, Configuration, EndpointContext, PrivateKey, ServerMetadata, Url,
    };

    fn server() -> ServerMetadata {
        let mut s = ServerMetadata::new(
            "https://as.example",
            "https://as.example/token".parse().unwrap(),
        );
        s.authorization_endpoint = Some("https://as.example/authorize".parse().unwrap());
        s.pushed_authorization_request_endpoint = Some("https://as.example/par".parse().unwrap());
        s
    }

    fn config(auth: ClientAuth) -> Result<Configuration> {
        Configuration::builder(server(), "app", auth)
            .fapi2_security_profile(true)
            .build()
    }

    #[test]
    fn client_authentication_is_checked_when_the_configuration_is_built() {
        let e = config(ClientAuth::client_secret_basic("s")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfiguration);
        assert!(
            e.to_string().contains("private_key_jwt or mutual TLS"),
            "{e}"
        );
        let rs = PrivateKey::generate(JwsAlgorithm::RS256).unwrap();
        let e = config(ClientAuth::private_key_jwt(rs)).unwrap_err();
        assert!(e.to_string().contains("not RS256"), "{e}");
        let es = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
        config(ClientAuth::private_key_jwt(es.clone())).unwrap();
        // The assertions' audience: the issuer alone.
        for audience in [
            AssertionAudience::TokenEndpoint,
            AssertionAudience::Custom("https://as.example/token".into()),
        ] {
            let auth = ClientAuth::private_key_jwt(es.clone()).assertion_audience(audience);
            let e = config(auth).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidConfiguration);
            assert!(e.to_string().contains("sole audience"), "{e}");
        }
        let auth = ClientAuth::private_key_jwt(es)
            .assertion_audience(AssertionAudience::Custom("https://as.example".into()));
        config(auth).unwrap();
    }

    #[tokio::test]
    async fn requests_must_be_pushed_with_pkce_and_tokens_sender_constrained() {
        let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
        let config = config(ClientAuth::private_key_jwt(key.clone())).unwrap();
        let params = [
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid"),
        ];
        let e = build_authorization_url(&config, &params).unwrap_err();
        assert!(e.to_string().contains("pushed"), "{e}");
        let e = build_authorization_url_with_jar(&config, &params, &key).unwrap_err();
        assert!(e.to_string().contains("pushed"), "{e}");
        // Without PKCE, refused before anything is sent.
        let e = build_authorization_url_with_par(&config, &params)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("S256"), "{e}");
        // A code redeemed without DPoP (and without mTLS): refused before sending.
        let callback: Url = "https://app.example/cb?code=c&iss=https%3A%2F%2Fas.example"
            .parse()
            .unwrap();
        let e = authorization_code_grant(&config, &callback, &AuthorizationChecks::new())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("sender-constrained"), "{e}");
    }

    #[test]
    fn iss_and_algorithms() {
        let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
        let config = config(ClientAuth::private_key_jwt(key)).unwrap();
        let ctx: EndpointContext<'_> = config.context();
        let callback: Url = "https://app.example/cb?code=c".parse().unwrap();
        let e =
            validate_authorization_response(&ctx, (&callback).into(), &AuthorizationChecks::new())
                .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IssuerMismatch);
        assert_eq!(
            check_algorithm(JwsAlgorithm::RS256, "x")
                .unwrap_err()
                .kind(),
            ErrorKind::UnsupportedAlgorithm
        );
        check_algorithm(JwsAlgorithm::PS256, "x").unwrap();
    }
}
