//! ID Tokens (OIDC Core §2, §3.1.3.6) and the faults that spoil the next
//! one, for testing a client's ID Token validation (OIDC Core §3.1.3.7).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::keys::jwks_entry;
use super::{MockAuthorizationServer, ServerState, UserGrant};
use crate::jose::{b64url, random_b64url, JwsAlgorithm};
use crate::PrivateKey;

/// How long an ID Token is valid: `exp` is `iat` plus this.
const ID_TOKEN_LIFETIME: u64 = 300;

/// What is wrong with the next ID Token the server issues (see
/// [`MockAuthorizationServer::tamper_next_id_token`]); every variant is
/// something a client must refuse (OIDC Core §3.1.3.7) or, for
/// [`Claims`](IdTokenFault::Claims), whatever claims a test needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum IdTokenFault {
    /// Sets each member as a claim, replacing the one the server would
    /// send; a `null` value removes the claim. The token is then signed
    /// normally. When the result has an `aud` array of more than one
    /// audience and the map does not name `azp`, `azp` is set to the
    /// client (OIDC Core §2).
    Claims(Map<String, Value>),
    /// An Unsecured JWS (RFC 7519 §6): header `{"alg":"none","typ":"JWT"}`,
    /// the normal claims, and an empty signature (the token ends in `.`).
    AlgNone,
    /// The key-confusion attack: header `alg: HS256` with the current
    /// key's `kid`, MACed with HMAC-SHA-256 whose secret is the current
    /// key's JWK Set member (the public JWK with `use`) as
    /// `serde_json::to_string` writes it. A client that lets the header
    /// choose the algorithm and uses the published key as an HMAC secret
    /// accepts it.
    HmacWithPublicKey,
    /// Signed with a fresh key of the server's algorithm whose `kid`
    /// (`unknown-…`) is not in the JWK Set.
    UnknownKid,
    /// Signed normally with a `crit: ["exp"]` header member: an extension
    /// the client cannot understand, so it must refuse the token (RFC 7515
    /// §4.1.11).
    Crit,
    /// A five-part string shaped like a compact JWE (RFC 7516 §7.1): a
    /// header `{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"JWT","kid":…}`
    /// and four parts of random bytes (encrypted key, IV, ciphertext, tag).
    /// It cannot be decrypted; a client that did not register for
    /// encrypted ID Tokens must refuse it.
    Encrypted,
    /// A valid token whose signature bytes are all inverted (each XORed
    /// with `0xff`), so the signature no longer verifies.
    Signature,
}

impl IdTokenFault {
    /// [`IdTokenFault::Claims`] from a JSON object, e.g.
    /// `IdTokenFault::claims(json!({"aud": "someone-else", "nonce": null}))`.
    ///
    /// # Panics
    /// If `claims` is not a JSON object.
    pub fn claims(claims: Value) -> Self {
        match claims {
            Value::Object(map) => IdTokenFault::Claims(map),
            _ => panic!("IdTokenFault::claims takes a JSON object"),
        }
    }
}

/// The `at_hash` of an access token, the `c_hash` of a code or the
/// `s_hash` of a `state` (`value`) for an ID Token signed with `alg` (OIDC
/// Core §3.1.3.6, §3.3.2.11; FAPI 1.0 Advanced): base64url of the left
/// half of the hash of its ASCII octets, the hash being the one of `alg`
/// (SHA-256 for `*256`, SHA-384 for `*384`, SHA-512 for `*512` and for
/// EdDSA/Ed25519).
pub(super) fn token_hash(alg: JwsAlgorithm, value: &str) -> String {
    use JwsAlgorithm::*;
    let input = value.as_bytes();
    let digest: Vec<u8> = match alg {
        HS256 | RS256 | PS256 | ES256 => openssl::sha::sha256(input).to_vec(),
        HS384 | RS384 | PS384 | ES384 => openssl::sha::sha384(input).to_vec(),
        HS512 | RS512 | PS512 | ES512 | EdDSA => openssl::sha::sha512(input).to_vec(),
    };
    b64url(&digest[..digest.len() / 2])
}

/// What travels with an ID Token, each hashed into a claim when present:
/// the access token of a token response (`at_hash`), the code of a hybrid
/// response (`c_hash`) and the `state` of a front-channel response
/// (`s_hash`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Hashed<'a> {
    pub(super) access_token: Option<&'a str>,
    pub(super) code: Option<&'a str>,
    pub(super) state: Option<&'a str>,
}

/// The claims of the hashes [`Hashed`] can give: never taken from the
/// user's claims.
const HASH_CLAIMS: [&str; 3] = ["at_hash", "c_hash", "s_hash"];

/// Issues the ID Token of `grant`, at the token endpoint (with the access
/// token) or at the authorization endpoint (with the code and the `state`):
/// signed with the current key (header `alg`, `kid`, `typ: "JWT"`), claims
/// `iss`, `sub`, `aud`, `exp`, `iat`, `auth_time`, `nonce` (if given), the
/// hashes of `hashed` (`at_hash`, `c_hash`, `s_hash`) and the user's
/// claims; then spoiled by the next [`IdTokenFault`], if any.
pub(super) fn issue(
    state: &ServerState,
    grant: &UserGrant,
    nonce: Option<&str>,
    hashed: Hashed<'_>,
) -> crate::Result<String> {
    let key = state.signing.lock().expect("lock").current().clone();
    let now = state.now();
    let mut claims = state.user.claims.clone();
    claims.insert("iss".into(), state.issuer.clone().into());
    claims.insert("sub".into(), grant.subject.clone().into());
    claims.insert("aud".into(), grant.client_id.clone().into());
    claims.insert("exp".into(), (now + ID_TOKEN_LIFETIME).into());
    claims.insert("iat".into(), now.into());
    claims.insert("auth_time".into(), grant.auth_time.into());
    claims.remove("nonce");
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    let hashes = [hashed.access_token, hashed.code, hashed.state];
    for (claim, value) in HASH_CLAIMS.into_iter().zip(hashes) {
        claims.remove(claim);
        if let Some(value) = value {
            claims.insert(claim.into(), token_hash(key.algorithm(), value).into());
        }
    }
    claims.remove("azp");
    let fault = state.id_token_faults.lock().expect("lock").pop_front();
    if let Some(IdTokenFault::Claims(changes)) = &fault {
        let names_azp = changes.contains_key("azp");
        change_claims(&mut claims, changes.clone());
        let several = claims
            .get("aud")
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() > 1);
        if several && !names_azp {
            claims.insert("azp".into(), grant.client_id.clone().into());
        }
    }
    sign_spoiled(&key, Some("JWT"), claims, fault.as_ref())
}

/// Sets each member of `changes` as a claim, a `null` removing it.
pub(super) fn change_claims(claims: &mut Map<String, Value>, changes: Map<String, Value>) {
    for (name, value) in changes {
        if value.is_null() {
            claims.remove(&name);
        } else {
            claims.insert(name, value);
        }
    }
}

/// Signs `claims` with `key` as a JWT (header `alg`, `kid`, `typ` if
/// given), spoiled as `fault` says: the server's JWTs (ID Tokens, JARM and
/// introspection responses) share this. [`IdTokenFault::Claims`] signs normally (the caller changed
/// the claims).
pub(super) fn sign_spoiled(
    key: &PrivateKey,
    typ: Option<&str>,
    claims: Map<String, Value>,
    fault: Option<&IdTokenFault>,
) -> crate::Result<String> {
    match fault {
        None | Some(IdTokenFault::Claims(_)) => key.sign_jwt(typ, &[], claims),
        Some(IdTokenFault::AlgNone) => {
            let header = json!({"alg": "none", "typ": typ});
            Ok(format!(
                "{}.{}.",
                b64url(header.to_string().as_bytes()),
                b64url(Value::Object(claims).to_string().as_bytes())
            ))
        }
        Some(IdTokenFault::HmacWithPublicKey) => hmac_with_public_key(key, typ, claims),
        Some(IdTokenFault::UnknownKid) => {
            let stranger = PrivateKey::generate(key.algorithm())?
                .with_kid(format!("unknown-{}", random_b64url(9)?));
            stranger.sign_jwt(typ, &[], claims)
        }
        Some(IdTokenFault::Crit) => key.sign_jwt(typ, &[("crit", json!(["exp"]))], claims),
        Some(IdTokenFault::Encrypted) => {
            let header = json!({
                "alg": "RSA-OAEP-256",
                "enc": "A256GCM",
                "cty": "JWT",
                "kid": key.kid(),
            });
            Ok(format!(
                "{}.{}.{}.{}.{}",
                b64url(header.to_string().as_bytes()),
                random_b64url(256)?,
                random_b64url(12)?,
                random_b64url(Value::Object(claims).to_string().len())?,
                random_b64url(16)?,
            ))
        }
        Some(IdTokenFault::Signature) => {
            let jwt = key.sign_jwt(typ, &[], claims)?;
            let (input, signature) = jwt.rsplit_once('.').expect("a compact JWS");
            let mut bytes = URL_SAFE_NO_PAD
                .decode(signature)
                .expect("our own signature is base64url");
            for b in &mut bytes {
                *b ^= 0xff;
            }
            Ok(format!("{input}.{}", b64url(&bytes)))
        }
    }
}

/// `claims` MACed with HS256, the secret being `key`'s JWK Set member.
fn hmac_with_public_key(
    key: &PrivateKey,
    typ: Option<&str>,
    claims: Map<String, Value>,
) -> crate::Result<String> {
    let secret = Value::Object(jwks_entry(key)).to_string();
    let header = json!({"alg": "HS256", "typ": typ, "kid": key.kid()});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(Value::Object(claims).to_string().as_bytes())
    );
    let failed = |e| crate::Error::signing("cannot compute the HS256 MAC").with_source(e);
    let pkey = openssl::pkey::PKey::hmac(secret.as_bytes()).map_err(failed)?;
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey)
        .map_err(failed)?;
    signer.update(input.as_bytes()).map_err(failed)?;
    let mac = signer.sign_to_vec().map_err(failed)?;
    Ok(format!("{input}.{}", b64url(&mac)))
}

/// ID Token faults.
impl MockAuthorizationServer {
    /// Spoils the next ID Token the server issues with `fault`, whichever
    /// the channel: the token endpoint's (from an authorization code or a
    /// refresh) or the authorization endpoint's (the front-channel ID Token
    /// of a `code id_token` or `id_token` response; so in a hybrid sign-in
    /// the fault reaches the front-channel token, and the token endpoint's
    /// is normal). Later ones are normal again. Several calls queue several
    /// faults, one per token.
    ///
    /// E.g. `IdTokenFault::claims(json!({"c_hash": null}))` takes the
    /// `c_hash` out of a hybrid response's ID Token, and
    /// `IdTokenFault::claims(json!({"s_hash": "…"}))` gives it a wrong
    /// `s_hash`.
    pub fn tamper_next_id_token(&self, fault: IdTokenFault) {
        self.state
            .id_token_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // A Google access token and its at_hash (SHA-256), as published in
        // a third-party test suite.
        let google = "ya29.OwHWAP05yaZvR92b67pAxfX5xHH5KNxA1mhh-zInoQ5vhK-Vuib1-Hqj";
        for alg in [
            JwsAlgorithm::RS256,
            JwsAlgorithm::PS256,
            JwsAlgorithm::ES256,
        ] {
            assert_eq!(token_hash(alg, google), "-EsTxDmUFRxSI0H_ZpbHiw");
        }
        // SHA-384 and SHA-512, computed with Python's hashlib.
        for alg in [
            JwsAlgorithm::RS384,
            JwsAlgorithm::PS384,
            JwsAlgorithm::ES384,
        ] {
            assert_eq!(token_hash(alg, google), "lr15bX_3xEberC0_J8pV6Q-LIdjBQxVp");
        }
        for alg in [
            JwsAlgorithm::RS512,
            JwsAlgorithm::PS512,
            JwsAlgorithm::ES512,
            JwsAlgorithm::EdDSA,
        ] {
            assert_eq!(
                token_hash(alg, google),
                "WXpYSknb9WL3nKL9y7T6wl1M_qHYEpfpH5adSJMWnfw"
            );
        }
    }

    #[test]
    fn at_hash_length_is_half_the_digest() {
        // 16, 24 and 32 bytes: 22, 32 and 43 base64url characters.
        assert_eq!(token_hash(JwsAlgorithm::ES256, "x").len(), 22);
        assert_eq!(token_hash(JwsAlgorithm::ES384, "x").len(), 32);
        assert_eq!(token_hash(JwsAlgorithm::EdDSA, "x").len(), 43);
    }
}
