//! Server-issued DPoP nonces at the resource server (RFC 9449 §9): the
//! server gives a fresh value in a `DPoP-Nonce` header and accepts only
//! proofs that carry a recent one, which bounds how long a proof that was
//! made in advance (by someone who stole the key for a while) stays useful.
//!
//! The nonces here hold no state: a nonce is a time window's number and a
//! MAC over it, so any instance holding the same secret accepts the nonces
//! of the others, and nothing grows with the number of clients.

use std::fmt;
use std::time::{Duration, SystemTime};

use openssl::memcmp;
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::clock::unix_seconds;
use crate::error::{Error, Result};
use crate::jose::{b64url, random_b64url};

/// How long a nonce is current by default; the one before stays accepted
/// for as long again, so a nonce is good for one to two windows.
pub const DEFAULT_NONCE_ROTATION: Duration = Duration::from_secs(300);

/// Issues and checks DPoP nonces (RFC 9449 §9) for a resource server.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use oidckit::DPoPNonces;
///
/// let nonces = DPoPNonces::new(b"a secret shared by every instance, 32+ bytes")?;
/// let now = SystemTime::now();
/// let nonce = nonces.current(now);
/// // Current for the rest of its 5-minute window, then accepted one more.
/// assert!(nonces.is_valid(&nonce, now + Duration::from_secs(299)));
/// assert!(!nonces.is_valid(&nonce, now + Duration::from_secs(600)));
/// # Ok::<_, oidckit::Error>(())
/// ```
#[derive(Clone)]
pub struct DPoPNonces {
    key: PKey<openssl::pkey::Private>,
    rotation: Duration,
}

impl fmt::Debug for DPoPNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DPoPNonces")
            .field("rotation", &self.rotation)
            .finish_non_exhaustive()
    }
}

impl DPoPNonces {
    /// Nonces MACed with `secret` (at least 32 bytes; give every instance of
    /// a fleet the same one), rotating every [`DEFAULT_NONCE_ROTATION`].
    pub fn new(secret: &[u8]) -> Result<Self> {
        if secret.len() < 32 {
            return Err(Error::invalid_configuration(
                "a DPoP nonce secret needs at least 32 bytes",
            ));
        }
        let key = PKey::hmac(secret).map_err(|e| {
            Error::invalid_configuration("cannot make a DPoP nonce key").with_source(e)
        })?;
        Ok(DPoPNonces {
            key,
            rotation: DEFAULT_NONCE_ROTATION,
        })
    }

    /// Nonces with a random secret, for a single instance.
    pub fn random() -> Result<Self> {
        Self::new(random_b64url(32)?.as_bytes())
    }

    /// How long a nonce is current (at least a second); it is accepted for
    /// up to twice that.
    #[must_use]
    pub fn rotation(mut self, rotation: Duration) -> Self {
        self.rotation = rotation.max(Duration::from_secs(1));
        self
    }

    fn window(&self, now: SystemTime) -> u64 {
        unix_seconds(now) / self.rotation.as_secs()
    }

    /// The nonce to send now (`DPoP-Nonce`).
    pub fn current(&self, now: SystemTime) -> String {
        self.nonce(self.window(now))
    }

    fn nonce(&self, window: u64) -> String {
        let mac = self.mac(window);
        format!("{window}.{}", b64url(&mac))
    }

    fn mac(&self, window: u64) -> Vec<u8> {
        // HMAC-SHA256 cannot fail with a valid key; an empty MAC would
        // never match a nonce, so a failure only refuses.
        Signer::new(openssl::hash::MessageDigest::sha256(), &self.key)
            .and_then(|mut s| {
                s.update(b"oidckit DPoP nonce ")?;
                s.update(window.to_string().as_bytes())?;
                s.sign_to_vec()
            })
            .unwrap_or_default()
    }

    /// Whether `nonce` is the current one or the one before.
    pub fn is_valid(&self, nonce: &str, now: SystemTime) -> bool {
        let Some((window, mac)) = nonce.split_once('.') else {
            return false;
        };
        let Ok(window) = window.parse::<u64>() else {
            return false;
        };
        let current = self.window(now);
        if window != current && window.checked_add(1) != Some(current) {
            return false;
        }
        let expected = b64url(&self.mac(window));
        mac.len() == expected.len() && memcmp::eq(mac.as_bytes(), expected.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn windows_and_forgeries() {
        let nonces = DPoPNonces::new(&[7; 32])
            .unwrap()
            .rotation(Duration::from_secs(100));
        let n = nonces.current(at(1_000));
        assert!(nonces.is_valid(&n, at(1_099)));
        assert!(nonces.is_valid(&n, at(1_199)), "the previous window");
        assert!(!nonces.is_valid(&n, at(1_200)), "two windows on");
        assert!(!nonces.is_valid(&n, at(999)), "not from the future");
        assert_ne!(nonces.current(at(1_100)), n);
        // Another secret's nonce, or a forged window.
        let other = DPoPNonces::new(&[8; 32])
            .unwrap()
            .rotation(Duration::from_secs(100));
        assert!(!other.is_valid(&n, at(1_000)));
        let (_, mac) = n.split_once('.').unwrap();
        assert!(!nonces.is_valid(&format!("11.{mac}"), at(1_100)));
        for junk in ["", ".", "10", "x.y", "10.", "18446744073709551615.AA"] {
            assert!(!nonces.is_valid(junk, at(1_000)), "{junk:?}");
        }
        assert!(DPoPNonces::new(b"short").is_err());
        // A fleet: the same secret accepts each other's nonces.
        let twin = DPoPNonces::new(&[7; 32])
            .unwrap()
            .rotation(Duration::from_secs(100));
        assert!(twin.is_valid(&n, at(1_000)));
    }
}
