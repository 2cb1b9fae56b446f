//! The response types the authorization endpoint serves: the code flow
//! (`code`, RFC 6749 §4.1), the hybrid flow (`code id_token`, OIDC Core
//! §3.3) and the implicit flow's sign-in (`id_token`, OIDC Core §3.2); the
//! response modes each may use (OAuth 2.0 Multiple Response Type Encoding
//! Practices §2.1, §5).

use super::jarm::ResponseMode;

/// A supported `response_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResponseType {
    /// `code`.
    Code,
    /// `code id_token`: a code and a front-channel ID Token.
    CodeIdToken,
    /// `id_token`: a front-channel ID Token alone.
    IdToken,
}

impl ResponseType {
    /// The type a `response_type` value names, its space-separated words in
    /// any order (RFC 6749 §3.1.1), or `None` if it is not supported (e.g.
    /// `token`, `code token`, `id_token token`: no access token is ever
    /// put in the front channel here).
    pub(super) fn of(value: &str) -> Option<Self> {
        let mut words: Vec<&str> = value.split(' ').collect();
        words.sort_unstable();
        match words.as_slice() {
            ["code"] => Some(ResponseType::Code),
            ["code", "id_token"] => Some(ResponseType::CodeIdToken),
            ["id_token"] => Some(ResponseType::IdToken),
            _ => None,
        }
    }

    /// The value as the discovery document lists it.
    pub(super) fn name(self) -> &'static str {
        match self {
            ResponseType::Code => "code",
            ResponseType::CodeIdToken => "code id_token",
            ResponseType::IdToken => "id_token",
        }
    }

    /// Whether the response carries an authorization code.
    pub(super) fn has_code(self) -> bool {
        matches!(self, ResponseType::Code | ResponseType::CodeIdToken)
    }

    /// Whether the response carries an ID Token.
    pub(super) fn has_id_token(self) -> bool {
        matches!(self, ResponseType::CodeIdToken | ResponseType::IdToken)
    }

    /// The response mode when the request names none: `query` for `code`,
    /// `fragment` for the types with an ID Token (OIDC Core §3.3.2.5,
    /// §3.2.2.5).
    pub(super) fn default_mode(self) -> ResponseMode {
        if self.has_id_token() {
            ResponseMode::Fragment
        } else {
            ResponseMode::Query
        }
    }

    /// Why `mode` cannot carry this type's response, if it cannot: an ID
    /// Token never travels in the query (Multiple Response Type Encoding
    /// Practices §5), the JARM modes are served for `code` only, and
    /// `fragment` is served for the types with an ID Token only.
    pub(super) fn refuses(self, mode: ResponseMode) -> Option<String> {
        match (self.has_id_token(), mode) {
            (true, ResponseMode::Query) => Some(format!(
                "response_mode query cannot carry the ID Token of response_type {:?} (OAuth 2.0 \
                 Multiple Response Type Encoding Practices §5): use fragment or form_post",
                self.name()
            )),
            (true, ResponseMode::QueryJwt | ResponseMode::FormPostJwt) => Some(format!(
                "JARM response modes are not supported with response_type {:?} here: use \
                 fragment or form_post",
                self.name()
            )),
            (false, ResponseMode::Fragment) => Some(
                "response_mode fragment is served for response types with an ID Token only \
                 (code id_token, id_token)"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// The response mode a request's answer travels in: the requested
/// `response_mode` when it suits the `response_type`, else that type's
/// default (an unsupported or missing type counts as `code`), so that an
/// error about the mode itself goes back the default way.
pub(super) fn delivery_mode(
    response_type: Option<&str>,
    response_mode: Option<&str>,
) -> ResponseMode {
    let response_type = response_type
        .and_then(ResponseType::of)
        .unwrap_or(ResponseType::Code);
    response_mode
        .and_then(ResponseMode::of)
        .filter(|mode| response_type.refuses(*mode).is_none())
        .unwrap_or(response_type.default_mode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_types_are_words_in_any_order() {
        assert_eq!(ResponseType::of("code"), Some(ResponseType::Code));
        assert_eq!(
            ResponseType::of("code id_token"),
            Some(ResponseType::CodeIdToken)
        );
        assert_eq!(
            ResponseType::of("id_token code"),
            Some(ResponseType::CodeIdToken)
        );
        assert_eq!(ResponseType::of("id_token"), Some(ResponseType::IdToken));
        for refused in [
            "",
            "token",
            "code token",
            "id_token token",
            "code id_token token",
            "code code",
            "code  id_token",
            "none",
        ] {
            assert_eq!(ResponseType::of(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn delivery_modes() {
        use ResponseMode::*;
        let cases = [
            (None, None, Query),
            (Some("code"), None, Query),
            (Some("code"), Some("fragment"), Query),
            (Some("code"), Some("form_post"), FormPost),
            (Some("code"), Some("jwt"), QueryJwt),
            (Some("token"), Some("form_post.jwt"), FormPostJwt),
            (Some("code id_token"), None, Fragment),
            (Some("code id_token"), Some("query"), Fragment),
            (Some("code id_token"), Some("query.jwt"), Fragment),
            (Some("code id_token"), Some("form_post"), FormPost),
            (Some("id_token"), Some("fragment"), Fragment),
            (Some("id_token"), Some("form_post.jwt"), Fragment),
            (Some("id_token"), Some("nonsense"), Fragment),
        ];
        for (response_type, response_mode, expected) in cases {
            assert_eq!(
                delivery_mode(response_type, response_mode),
                expected,
                "{response_type:?} {response_mode:?}"
            );
        }
    }
}
