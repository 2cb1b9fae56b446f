//! `WWW-Authenticate` challenges
//! ([RFC 9110 §11.6.1](https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1)).
//!
//! Servers put OAuth error details in challenges (RFC 6750 §3 for Bearer,
//! RFC 9449 §7.1 for DPoP), sometimes alongside a JSON error body. The parser
//! is total: whatever bytes a server sends, it returns the challenges it could
//! read and stops at the first thing it cannot, without panicking.

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

/// One challenge of a `WWW-Authenticate` header, such as
/// `Bearer realm="api", error="invalid_token"`.
///
/// The scheme and parameter names are lowercased; values are kept as sent
/// (quoted strings unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
    token68: Option<String>,
}

impl Challenge {
    /// The auth scheme, lowercased (`bearer`, `dpop`, `basic`, …).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// A parameter by (case-insensitive) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters, names lowercased, in the order sent.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The token68 form of the challenge, if it used one instead of parameters.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// The `error` parameter (RFC 6750 §3), e.g. `invalid_token`.
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }

    /// The `error_description` parameter.
    pub fn error_description(&self) -> Option<&str> {
        self.param("error_description")
    }

    /// The `error_uri` parameter.
    pub fn error_uri(&self) -> Option<&str> {
        self.param("error_uri")
    }

    /// The `realm` parameter.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// The `scope` parameter (RFC 6750 §3).
    pub fn scope(&self) -> Option<&str> {
        self.param("scope")
    }

    /// The `algs` parameter of a DPoP challenge (RFC 9449 §7.1), split on
    /// spaces: the proof algorithms the server accepts.
    pub fn algs(&self) -> Vec<&str> {
        self.param("algs")
            .map(|a| a.split_ascii_whitespace().collect())
            .unwrap_or_default()
    }

    /// The `resource_metadata` parameter (RFC 9728 §5.1).
    pub fn resource_metadata(&self) -> Option<&str> {
        self.param("resource_metadata")
    }
}

/// Parses the value of one `WWW-Authenticate` header into its challenges.
///
/// ```
/// let challenges = oidckit::parse_www_authenticate(
///     r#"DPoP error="use_dpop_nonce", algs="ES256 PS256", Bearer realm="api""#,
/// );
/// assert_eq!(challenges.len(), 2);
/// assert_eq!(challenges[0].scheme(), "dpop");
/// assert_eq!(challenges[0].error(), Some("use_dpop_nonce"));
/// assert_eq!(challenges[0].algs(), ["ES256", "PS256"]);
/// assert_eq!(challenges[1].realm(), Some("api"));
/// ```
pub fn parse_www_authenticate(header: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_ws_and_commas();
        if p.eof() {
            break;
        }
        let scheme = p.token();
        if scheme.is_empty() {
            break; // not a challenge: stop at what we cannot read
        }
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
            token68: None,
        };
        // A scheme is followed by at least one space before its token68 or
        // parameters; a comma right after it starts the next challenge.
        if p.skip_ws() > 0 && !p.eof() && p.peek() != Some(b',') {
            if let Some(t) = p.token68() {
                challenge.token68 = Some(t);
            } else {
                p.params_into(&mut challenge.params);
            }
        }
        out.push(challenge);
    }
    out
}

/// Whether a resource server asks for a DPoP nonce: a `DPoP` challenge with
/// `error="use_dpop_nonce"` (RFC 9449 §9).
pub(crate) fn asks_for_dpop_nonce(challenges: &[Challenge]) -> bool {
    challenges
        .iter()
        .any(|c| c.scheme() == "dpop" && c.error() == Some("use_dpop_nonce"))
}

/// All challenges of all `WWW-Authenticate` headers of a response.
pub(crate) fn challenges_from_headers(headers: &HeaderMap) -> Vec<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        // Servers put non-ASCII text in error_description; read it lossily
        // rather than dropping the whole header.
        .flat_map(|v| parse_www_authenticate(&String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Parser<'_> {
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - start
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &str {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        // Only ASCII bytes pass the predicates, so this cannot fail.
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default()
    }

    fn token(&mut self) -> String {
        self.take_while(is_tchar).to_owned()
    }

    /// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`,
    /// which must end the challenge (end of input or a comma).
    fn token68(&mut self) -> Option<String> {
        let start = self.i;
        let body_len = self.take_while(is_token68_char).len();
        if body_len > 0 {
            self.take_while(|b| b == b'=');
            let end = self.i;
            self.skip_ws();
            if self.eof() || self.peek() == Some(b',') {
                return Some(String::from_utf8_lossy(&self.s[start..end]).into_owned());
            }
        }
        self.i = start;
        None
    }

    /// `auth-param = token BWS "=" BWS ( token / quoted-string )`
    fn param(&mut self) -> Option<(String, String)> {
        let start = self.i;
        let parsed = (|| {
            let name = self.token();
            if name.is_empty() {
                return None;
            }
            self.skip_ws();
            if self.peek() != Some(b'=') {
                return None;
            }
            self.i += 1;
            self.skip_ws();
            let value = if self.peek() == Some(b'"') {
                self.quoted_string()?
            } else {
                let v = self.token();
                if v.is_empty() {
                    return None;
                }
                v
            };
            Some((name.to_ascii_lowercase(), value))
        })();
        if parsed.is_none() {
            self.i = start;
        }
        parsed
    }

    fn quoted_string(&mut self) -> Option<String> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        let mut bytes = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    bytes.push(self.peek()?);
                    self.i += 1;
                }
                b => {
                    bytes.push(b);
                    self.i += 1;
                }
            }
        }
    }

    /// Reads `auth-param *( OWS "," OWS auth-param )`. After a comma, a token
    /// not followed by `=` is the scheme of the next challenge, so the comma
    /// is left for the caller.
    fn params_into(&mut self, params: &mut Vec<(String, String)>) {
        while let Some(p) = self.param() {
            params.push(p);
            let before_comma = self.i;
            self.skip_ws();
            if self.peek() != Some(b',') {
                self.i = before_comma;
                return;
            }
            self.skip_ws_and_commas();
            let next = self.i;
            if self.param().is_none() {
                self.i = before_comma;
                return;
            }
            self.i = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_header_values_are_not_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            reqwest::header::HeaderValue::from_bytes(
                "Bearer error=\"invalid_token\", error_description=\"ä\"".as_bytes(),
            )
            .unwrap(),
        );
        let c = challenges_from_headers(&headers);
        assert_eq!(c[0].error(), Some("invalid_token"));
        assert_eq!(c[0].error_description(), Some("ä"));
    }

    #[test]
    fn bearer_with_params() {
        let c = parse_www_authenticate(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme(), "bearer");
        assert_eq!(c[0].realm(), Some("example"));
        assert_eq!(c[0].error(), Some("invalid_token"));
        assert_eq!(c[0].error_description(), Some("The access token expired"));
    }

    #[test]
    fn several_challenges_and_token68() {
        let c = parse_www_authenticate(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", Other abc+/def=="#,
        );
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].scheme(), "newauth");
        assert_eq!(c[0].param("type"), Some("1"));
        assert_eq!(c[0].param("TITLE"), Some("Login to \"apps\""));
        assert_eq!(c[1].scheme(), "basic");
        assert_eq!(c[1].realm(), Some("simple"));
        assert_eq!(c[2].token68(), Some("abc+/def=="));
    }

    #[test]
    fn bare_schemes_and_dpop_algs() {
        let c =
            parse_www_authenticate(r#"Negotiate, DPoP algs="ES256 EdDSA", error="use_dpop_nonce""#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme(), "negotiate");
        assert!(c[0].params().is_empty());
        assert_eq!(c[1].algs(), ["ES256", "EdDSA"]);
        assert_eq!(c[1].error(), Some("use_dpop_nonce"));
    }

    #[test]
    fn hostile_input_never_panics() {
        for s in [
            "",
            ",,,",
            "\"",
            "Bearer \"",
            "Bearer realm=\"unterminated",
            "Bearer realm=",
            "Bearer =x",
            "Bearer realm=\"a\\",
            "Bearer , , realm=1",
            "=====",
            "Bearer realm=\"é\"",
        ] {
            let _ = parse_www_authenticate(s);
        }
        let c = parse_www_authenticate(
            "Bearer error=\"invalid_token\", error_description=\"abgelaufen – ä\"",
        );
        assert_eq!(c[0].error_description(), Some("abgelaufen – ä"));
        // A value that cannot be read ends the parse without losing earlier ones.
        let c = parse_www_authenticate("Bearer realm=x, error=\"open");
        assert_eq!(c[0].realm(), Some("x"));
    }
}
