//! The end-user's side of a sign-in at tests/interop/provider.mjs, shared by
//! the interop tests that drive its login and consent pages: what the
//! application keeps in the session ([`SignIn`]), a browser walking from the
//! authorization URL back to the client ([`authorize`]), and small URL
//! helpers.
//!
//! The tests register [`REDIRECT_URI`] (port 1, never requested): the user
//! agent stops at the redirect that leaves the server and the test hands
//! that `Location` (or the auto-submitting form's body) to the client.

// Each test binary includes this file and uses only some of it.
#![allow(dead_code)]

use oidckit::reqwest::StatusCode;
use oidckit::{
    build_authorization_url, calculate_pkce_code_challenge, random_nonce,
    random_pkce_code_verifier, random_state, AuthorizationChecks, Callback, Configuration, Url,
};

use crate::user_agent::{snippet, Landing, UserAgent};

/// The redirect URI the sign-in clients register.
pub const REDIRECT_URI: &str = "http://127.0.0.1:1/cb";
/// The `max_age` a [`SignIn`] sends.
pub const MAX_AGE: u64 = 3600;

/// What the application keeps in the user's session between the
/// authorization request and the callback.
pub struct SignIn {
    pub verifier: String,
    pub state: String,
    pub nonce: String,
    pub max_age: u64,
}

impl Default for SignIn {
    fn default() -> Self {
        Self::new()
    }
}

impl SignIn {
    pub fn new() -> Self {
        SignIn {
            verifier: random_pkce_code_verifier(),
            state: random_state(),
            nonce: random_nonce(),
            max_age: MAX_AGE,
        }
    }

    /// The authorization request's parameters: `scope`, the PKCE
    /// challenge, `state`, `nonce`, `max_age`, then `extra`.
    pub fn params(&self, scope: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut params = vec![
            ("scope".to_owned(), scope.to_owned()),
            (
                "code_challenge".to_owned(),
                calculate_pkce_code_challenge(&self.verifier),
            ),
            ("code_challenge_method".to_owned(), "S256".to_owned()),
            ("state".to_owned(), self.state.clone()),
            ("nonce".to_owned(), self.nonce.clone()),
            ("max_age".to_owned(), self.max_age.to_string()),
        ];
        params.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        params
    }

    /// The parameters of an implicit sign-in: `scope`,
    /// `response_type=id_token`, `state`, `nonce`, `max_age`, then `extra`.
    /// No PKCE challenge: no code comes back.
    pub fn implicit_params(&self, scope: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut params = vec![
            ("scope".to_owned(), scope.to_owned()),
            ("response_type".to_owned(), "id_token".to_owned()),
            ("state".to_owned(), self.state.clone()),
            ("nonce".to_owned(), self.nonce.clone()),
            ("max_age".to_owned(), self.max_age.to_string()),
        ];
        params.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        params
    }

    /// [`build_authorization_url`] with [`params`](Self::params).
    pub fn authorization_url(
        &self,
        config: &Configuration,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> Url {
        build_authorization_url(config, self.params(scope, extra)).unwrap()
    }

    /// The checks of the callback and the ID Token: the verifier, `state`,
    /// `nonce` and `max_age` sent.
    pub fn checks(&self) -> AuthorizationChecks {
        AuthorizationChecks::new()
            .pkce_code_verifier(&self.verifier)
            .expected_state(&self.state)
            .expected_nonce(&self.nonce)
            .max_age(self.max_age)
    }
}

/// Where the browser was sent back to, and the pages it went through.
#[derive(Clone, Debug)]
pub struct Authorized {
    /// The redirect URI with the response in its query, or for a
    /// `form_post` response mode the URL the form posts to.
    pub callback: Url,
    /// For a `form_post` response mode: the form body the browser would post.
    pub form_post: Option<String>,
    pub pages: Vec<&'static str>,
}

/// Where an authorization response's parameters are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseIn {
    /// The redirect URI's query (`response_mode=query`, the code flow's
    /// default).
    Query,
    /// The redirect URI's fragment (the hybrid and implicit flows'
    /// default): a browser script hands the whole URL over.
    Fragment,
    /// The body of an auto-submitting form (`response_mode=form_post`).
    FormPost,
}

impl Authorized {
    /// Where the response's parameters are: the form body of a
    /// `form_post`, else a non-empty query, else the fragment (the client's
    /// own order).
    pub fn response_in(&self) -> ResponseIn {
        if self.form_post.is_some() {
            ResponseIn::FormPost
        } else if self.callback.query().is_some_and(|q| !q.is_empty()) {
            ResponseIn::Query
        } else {
            ResponseIn::Fragment
        }
    }

    /// The response's parameters, in order, wherever they are.
    pub fn params(&self) -> Vec<(String, String)> {
        let encoded = match self.response_in() {
            ResponseIn::FormPost => self.form_post.as_deref().unwrap_or(""),
            ResponseIn::Query => self.callback.query().unwrap_or(""),
            ResponseIn::Fragment => self.callback.fragment().unwrap_or(""),
        };
        url::form_urlencoded::parse(encoded.as_bytes())
            .into_owned()
            .collect()
    }

    /// The names of the response's parameters, in order.
    pub fn param_names(&self) -> Vec<String> {
        self.params().into_iter().map(|(n, _)| n).collect()
    }

    /// The value of the response's parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The same response with its parameter `name` set to `value` (last),
    /// or removed, where it was: what an attacker between the server and
    /// the client could send instead.
    pub fn with_param(&self, name: &str, value: Option<&str>) -> Authorized {
        let mut pairs: Vec<(String, String)> = self
            .params()
            .into_iter()
            .filter(|(n, _)| n != name)
            .collect();
        if let Some(value) = value {
            pairs.push((name.to_owned(), value.to_owned()));
        }
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let mut changed = self.clone();
        match self.response_in() {
            ResponseIn::FormPost => changed.form_post = Some(encoded),
            ResponseIn::Query => changed.callback.set_query(Some(&encoded)),
            ResponseIn::Fragment => changed.callback.set_fragment(Some(&encoded)),
        }
        changed
    }

    /// The response as the application hands it to the client: the URL the
    /// browser came back to (query or fragment included), or the URL and
    /// body of the form it posted.
    pub fn response(&self) -> Callback<'_> {
        match &self.form_post {
            Some(body) => Callback::form_post(&self.callback, body.as_bytes()),
            None => (&self.callback).into(),
        }
    }
}

/// What the end-user answers on the consent page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    Allow,
    Deny,
}

/// Drives `agent` from the authorization URL to the client's redirect URI:
/// signs in as `login` on a login page, allows on a consent page, and stops
/// at the redirect (or the auto-submitting form) to the client.
pub async fn authorize(agent: &UserAgent, url: &Url, login: &str) -> Authorized {
    authorize_with(agent, url, login, Consent::Allow).await
}

/// [`authorize`], answering the consent page with `consent` (`Deny` ends
/// the request with `access_denied`).
pub async fn authorize_with(
    agent: &UserAgent,
    url: &Url,
    login: &str,
    consent: Consent,
) -> Authorized {
    let mut hops = Vec::new();
    let mut pages = Vec::new();
    let mut landing = agent.visit(url, &mut hops).await;
    for _ in 0..3 {
        let page = match landing {
            Landing::Left(callback) => {
                return Authorized {
                    callback,
                    form_post: None,
                    pages,
                }
            }
            Landing::Page(page) => page,
        };
        // A form_post response is a 200 page, or a 400 one for an error
        // (oidc-provider's JARM form_post.jwt); anything else is a page of
        // the server's and must be a 200.
        if let Some(form) = page
            .first_form()
            .filter(|f| f.action.origin() != page.url.origin())
        {
            assert!(
                matches!(page.status, StatusCode::OK | StatusCode::BAD_REQUEST),
                "{} from {}",
                page.status,
                page.url
            );
            assert_eq!(form.method, "post");
            return Authorized {
                form_post: Some(form.encoded()),
                callback: form.action,
                pages,
            };
        }
        assert_eq!(
            page.status,
            StatusCode::OK,
            "{}:\n{}",
            page.url,
            snippet(&page.body)
        );
        let response = if page.has_form("login") {
            pages.push("login");
            let mut form = page.form("login");
            form.set("login", login);
            form.set("password", "any password");
            agent.submit(&form, "submit").await
        } else if page.has_form("consent") {
            pages.push("consent");
            match consent {
                Consent::Allow => agent.submit(&page.form("consent"), "submit").await,
                Consent::Deny => agent.submit(&page.form("abort"), "cancel").await,
            }
        } else {
            panic!(
                "neither a login nor a consent page at {}:\n{}",
                page.url,
                snippet(&page.body)
            );
        };
        landing = agent.follow(response, &mut hops).await;
    }
    panic!("still not back at the client after 3 pages: {pages:?}");
}

/// The value of the query parameter `name`.
pub fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// The names of `url`'s query parameters, in order.
pub fn query_names(url: &Url) -> Vec<String> {
    url.query_pairs().map(|(n, _)| n.into_owned()).collect()
}

/// `url` with the query parameter `name` set to `value`, or removed.
pub fn with_param(url: &Url, name: &str, value: Option<&str>) -> Url {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(n, _)| n != name)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    if let Some(value) = value {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    let mut url = url.clone();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

/// The redirect URI a callback went to (its origin and path, without
/// query or fragment).
pub fn without_query(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}
