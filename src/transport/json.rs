//! JSON bodies: the content-type rule and objects with unique members.

use reqwest::header::{HeaderMap, CONTENT_TYPE};

use crate::error::{Error, Result};

/// True for `application/json` and `application/<something>+json`
/// (parameters such as `charset` ignored).
pub(crate) fn is_json_content_type(value: &str) -> bool {
    // Compared as bytes: a hostile header may hold non-ASCII characters, and
    // slicing a `str` there could split one.
    let essence = value.split(';').next().unwrap_or("").trim().as_bytes();
    let prefix = b"application/";
    let suffix = b"+json";
    essence.eq_ignore_ascii_case(b"application/json")
        || (essence.len() > prefix.len() + suffix.len()
            && essence[..prefix.len()].eq_ignore_ascii_case(prefix)
            && essence[essence.len() - suffix.len()..].eq_ignore_ascii_case(suffix))
}

/// Parses a body that must be a JSON object. A `Content-Type` other than
/// JSON is refused (RFC 6749 §5.1 requires `application/json`); a missing
/// one is tolerated.
pub(crate) fn json_object(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>> {
    json_body::<UniqueKeys>(headers, body).map(|UniqueKeys(map)| map)
}

/// Parses a JSON body straight into `T` (whose `Deserialize` must refuse
/// duplicate members, see [`duplicate_member`]), under the same rules as
/// [`json_object`].
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T> {
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        let ct = String::from_utf8_lossy(ct.as_bytes());
        if !is_json_content_type(&ct) {
            return Err(Error::invalid_response(format!(
                "expected a JSON body, got content-type {ct:?}"
            )));
        }
    }
    match serde_json::from_slice::<T>(body) {
        Ok(value) => Ok(value),
        // serde's message for a wrong type quotes the value ("invalid type:
        // string \"eyJ…\""), which may be a token: only this crate's own
        // messages (a duplicate member) are kept, with the position.
        Err(e) if e.is_data() => {
            let message = e.to_string();
            let what = if message.starts_with("duplicate member") {
                message
            } else {
                format!(
                    "not a JSON object as expected (line {}, column {})",
                    e.line(),
                    e.column()
                )
            };
            Err(Error::invalid_response(format!(
                "the body is not a usable JSON object: {what}"
            )))
        }
        Err(e) => Err(Error::invalid_response(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// The error for a member that appears twice in an object. JSON parsers
/// disagree on which of two `access_token` members wins (RFC 8259 §4 leaves
/// it open), and a response that means different things to different
/// parsers is refused.
pub(crate) fn duplicate_member<E: serde::de::Error>(name: &str) -> E {
    E::custom(format!(
        "duplicate member {:?}",
        crate::error::server_text(name, 64)
    ))
}

/// The body as a JSON object with unique members, whatever the content
/// type, or `None` (for error bodies, which servers label loosely).
pub(crate) fn unique_object(body: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    serde_json::from_slice::<UniqueKeys>(body)
        .ok()
        .map(|UniqueKeys(map)| map)
}

/// A JSON object whose members are unique (see [`duplicate_member`]).
struct UniqueKeys(serde_json::Map<String, serde_json::Value>);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> std::result::Result<UniqueKeys, A::Error> {
                use serde_json::map::Entry;
                let mut map = serde_json::Map::new();
                while let Some((key, value)) = access.next_entry::<String, serde_json::Value>()? {
                    match map.entry(key) {
                        Entry::Vacant(member) => {
                            member.insert(value);
                        }
                        Entry::Occupied(member) => return Err(duplicate_member(member.key())),
                    }
                }
                Ok(UniqueKeys(map))
            }
        }
        d.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json_content_type(ok), "{ok}");
        }
        for bad in [
            "text/html",
            "application/jsonp",
            "text/json+html",
            "+json",
            "",
            "applicatioé/x+json",
        ] {
            assert!(!is_json_content_type(bad), "{bad}");
        }
    }

    #[test]
    fn json_object_rules() {
        let mut h = HeaderMap::new();
        assert!(json_object(&h, b"{\"a\":1}").is_ok());
        let dup = json_object(&h, b"{\"access_token\":\"a\",\"access_token\":\"b\"}").unwrap_err();
        assert!(dup.to_string().contains("duplicate member"), "{dup}");
        assert!(json_object(&h, b"[1]").is_err());
        assert!(json_object(&h, b"{").is_err());
        assert!(json_object(&h, b"\xff\xfe").is_err());
        h.insert(CONTENT_TYPE, "text/html".parse().unwrap());
        let err = json_object(&h, b"{\"a\":1}").unwrap_err();
        assert!(err.to_string().contains("text/html"), "{err}");
    }

    #[test]
    fn errors_do_not_quote_the_body() {
        let h = HeaderMap::new();
        let e = json_object(&h, br#""eyJhbGciOiJFUzI1NiJ9.secret-token""#).unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(!text.contains("secret-token"), "{text}");
        assert!(text.contains("line 1"), "{text}");
        let e = json_object(&h, br#"{"a":1,"a":2}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate member"), "{e}");
    }
}
