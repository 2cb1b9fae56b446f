//! Signing out at the server: OpenID Connect RP-Initiated Logout 1.0.

use url::Url;

use crate::config::Configuration;
use crate::endpoint::request::FormParam;
use crate::error::{Error, Result};
use crate::transport;

/// The URL to send the user's browser to for signing out at the server
/// ([RP-Initiated Logout §2](https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout)):
/// the `end_session_endpoint` with `client_id` and `params` — usually
/// `id_token_hint` (the ID Token of the sign-in), `post_logout_redirect_uri`
/// (registered for the client) and a `state` to find back on that page.
///
/// A server without an `end_session_endpoint` gives
/// [`MissingMetadata`](crate::ErrorKind::MissingMetadata): sign the user
/// out locally only, and say so.
///
/// ```
/// use oidckit::{build_end_session_url, ClientAuth, Configuration, ServerMetadata};
///
/// let mut server = ServerMetadata::new("https://as.example", "https://as.example/token".parse()?);
/// server.end_session_endpoint = Some("https://as.example/logout".parse()?);
/// let config = Configuration::new(server, "app", ClientAuth::none())?;
/// let url = build_end_session_url(&config, &[
///     ("id_token_hint", "eyJhbGciOiJFUzI1NiJ9.e30.sig"),
///     ("post_logout_redirect_uri", "https://app.example/bye"),
/// ])?;
/// assert_eq!(url.query_pairs().next().unwrap(), ("client_id".into(), "app".into()));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn build_end_session_url<I>(config: &Configuration, params: I) -> Result<Url>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let endpoint = config
        .server_metadata()
        .end_session_endpoint
        .as_ref()
        .ok_or_else(|| Error::missing_metadata("end_session_endpoint"))?;
    transport::check_url(endpoint, config.allow_insecure_requests())?;
    let mut url = endpoint.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("client_id", config.client_id().as_str());
        for p in params {
            if p.name() == "client_id" {
                return Err(Error::invalid_input("`client_id` is set by the library"));
            }
            query.append_pair(p.name(), p.value());
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientAuth, ErrorKind, ServerMetadata};

    fn config(endpoint: Option<&str>) -> Configuration {
        let mut server = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        server.end_session_endpoint = endpoint.map(|e| e.parse().unwrap());
        Configuration::new(server, "app", ClientAuth::none()).unwrap()
    }

    #[test]
    fn rules() {
        let e = build_end_session_url(&config(None), &[("state", "s")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingMetadata);
        assert!(e.to_string().contains("end_session_endpoint"), "{e}");
        let e = build_end_session_url(&config(Some("http://as.example/logout")), &[("a", "b")])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InsecureUrl);
        let e = build_end_session_url(
            &config(Some("https://as.example/logout")),
            &[("client_id", "other")],
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let url = build_end_session_url(
            &config(Some("https://as.example/logout?x=1")),
            &[("state", "a b")],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://as.example/logout?x=1&client_id=app&state=a+b"
        );
    }
}
