//! Reading the registered claims of a JWT (RFC 7519 §4.1) whatever the JWT
//! is: each helper names the JWT (`what`, e.g. "the access token") in its
//! errors, which are [`ClaimComparison`](ErrorKind::ClaimComparison) for a
//! missing or mistyped claim and [`TimestampCheck`](ErrorKind::TimestampCheck)
//! for a time.

use serde_json::{Map, Value};

use crate::error::{server_text, Error, ErrorKind, Result};

/// A claim that must be a non-empty string.
pub(crate) fn required_string<'m>(
    claims: &'m Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<&'m str> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(mismatch(format!(
            "{what}'s `{name}` is not a non-empty string"
        ))),
        None => Err(mismatch(format!("{what} has no `{name}`"))),
    }
}

/// A NumericDate claim (RFC 7519 §2): seconds since the epoch, fractions
/// dropped; `None` when absent.
pub(crate) fn optional_time(
    claims: &Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<Option<u64>> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }) {
            Some(t) => Ok(Some(t)),
            None => Err(timestamp(format!("{what}'s `{name}` is not a valid time"))),
        },
        Some(_) => Err(timestamp(format!("{what}'s `{name}` is not a number"))),
    }
}

/// A NumericDate claim that must be there.
pub(crate) fn required_time(claims: &Map<String, Value>, name: &str, what: &str) -> Result<u64> {
    optional_time(claims, name, what)?.ok_or_else(|| mismatch(format!("{what} has no `{name}`")))
}

/// `aud`: one string or a non-empty array of strings (RFC 7519 §4.1.3).
pub(crate) fn audiences(claims: &Map<String, Value>, what: &str) -> Result<Vec<String>> {
    let bad = || {
        mismatch(format!(
            "{what}'s `aud` is not a string or an array of strings"
        ))
    };
    match claims.get("aud") {
        Some(Value::String(aud)) => Ok(vec![aud.clone()]),
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|a| a.as_str().map(str::to_owned).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
        None => Err(mismatch(format!("{what} has no `aud`"))),
    }
}

/// `iss` must be `issuer`, exactly.
pub(crate) fn check_issuer(claims: &Map<String, Value>, issuer: &str, what: &str) -> Result<()> {
    let iss = required_string(claims, "iss", what)?;
    if iss != issuer {
        return Err(mismatch(format!(
            "{what}'s `iss` is {:?}, not the issuer {issuer:?}",
            server_text(iss, 120)
        )));
    }
    Ok(())
}

/// `exp` (required or not), `nbf` and `iat` against `now`, each with
/// `tolerance` seconds (RFC 7519 §4.1.4–4.1.6).
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    now: u64,
    tolerance: u64,
    exp_required: bool,
    what: &str,
) -> Result<()> {
    let exp = match exp_required {
        true => Some(required_time(claims, "exp", what)?),
        false => optional_time(claims, "exp", what)?,
    };
    if let Some(exp) = exp {
        if now >= exp.saturating_add(tolerance) {
            return Err(timestamp(format!(
                "{what} expired {} s ago (`exp`), beyond the {tolerance} s tolerance",
                now - exp
            )));
        }
    }
    if let Some(iat) = optional_time(claims, "iat", what)? {
        if iat > now.saturating_add(tolerance) {
            return Err(timestamp(format!(
                "{what} was issued {} s in the future (`iat`), beyond the {tolerance} s tolerance",
                iat - now
            )));
        }
    }
    if let Some(nbf) = optional_time(claims, "nbf", what)? {
        if nbf > now.saturating_add(tolerance) {
            return Err(timestamp(format!(
                "{what} is not valid for another {} s (`nbf`)",
                nbf - now
            )));
        }
    }
    Ok(())
}

pub(crate) fn mismatch(message: String) -> Error {
    Error::new(ErrorKind::ClaimComparison, message)
}

pub(crate) fn timestamp(message: String) -> Error {
    Error::new(ErrorKind::TimestampCheck, message)
}
