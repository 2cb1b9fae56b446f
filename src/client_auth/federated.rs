//! Client assertions that come from outside the process: federated
//! workload credentials.
//!
//! A workload on a platform that vouches for it — a Kubernetes pod with a
//! projected service-account token, a SPIFFE workload with a JWT-SVID, a
//! cloud VM or function with a workload identity — holds no client secret
//! and no private key. The platform issues it a short-lived signed JWT
//! instead, and the authorization server trusts the platform's keys for
//! that client. The client sends that JWT as its `client_assertion` with
//! the JWT-bearer assertion type (RFC 7521 §4.2, RFC 7523 §2.2), exactly as
//! `private_key_jwt` would, but does not sign it.
//!
//! Two sources: a **file** the platform writes and rotates (Kubernetes
//! projects the token into the pod and replaces it before it expires;
//! `spiffe-helper` writes JWT-SVIDs to files), re-read when it changes or
//! when the assertion in hand is about to expire, and never used past its
//! own `exp`; or a **callback** for credentials that live elsewhere (a
//! SPIFFE Workload API client, a cloud metadata service) that returns the
//! current assertion.

use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::clock::unix_seconds;
use crate::error::{server_text, Error, ErrorKind, Result};

/// When less than this is left before the assertion's `exp`, the file is
/// read again on the next request, in case the platform has rotated it
/// (Kubernetes rotates at 80 % of the token's lifetime, so a fresh token is
/// usually there long before).
const REREAD_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// The largest assertion file read (platform tokens are 1–2 KB).
const MAX_ASSERTION_LEN: u64 = 64 * 1024;

/// The error type a [callback](crate::ClientAuth::client_assertion_callback)
/// may return.
pub type CallbackError = Box<dyn std::error::Error + Send + Sync>;

type Callback = dyn Fn() -> std::result::Result<String, CallbackError> + Send + Sync;

/// Where a federated client assertion comes from.
#[derive(Clone)]
pub(crate) enum AssertionSource {
    File(Arc<FileAssertion>),
    Callback(Arc<Callback>),
}

impl fmt::Debug for AssertionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssertionSource::File(file) => write!(f, "file {:?}", file.path),
            AssertionSource::Callback(_) => f.write_str("callback"),
        }
    }
}

impl AssertionSource {
    pub(crate) fn file(path: PathBuf) -> Self {
        AssertionSource::File(Arc::new(FileAssertion {
            path,
            current: Mutex::new(None),
        }))
    }

    pub(crate) fn callback(
        f: impl Fn() -> std::result::Result<String, CallbackError> + Send + Sync + 'static,
    ) -> Self {
        AssertionSource::Callback(Arc::new(f))
    }

    /// The assertion to send now (`now` from the configuration's clock).
    pub(crate) fn assertion(&self, now: SystemTime) -> Result<String> {
        match self {
            AssertionSource::File(file) => file.assertion(now),
            AssertionSource::Callback(f) => {
                let assertion = f().map_err(|e| {
                    credential("the client assertion callback failed").with_boxed_source(e)
                })?;
                let assertion = assertion.trim().to_owned();
                check_usable(&assertion, now, "the client assertion from the callback")?;
                Ok(assertion)
            }
        }
    }
}

/// An assertion read from a file, kept until the file changes or the
/// assertion nears its `exp`.
pub(crate) struct FileAssertion {
    path: PathBuf,
    current: Mutex<Option<Read>>,
}

/// What was read, and how the file looked then.
struct Read {
    assertion: String,
    stamp: FileStamp,
    expires_at: Option<u64>,
}

/// Enough of a file's metadata to see that it was replaced or rewritten:
/// platforms swap a symlink (Kubernetes' `..data`) or rewrite in place.
#[derive(PartialEq, Eq, Clone, Copy)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

impl FileStamp {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        FileStamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            inode: meta.ino(),
        }
    }
}

impl FileAssertion {
    fn assertion(&self, now: SystemTime) -> Result<String> {
        let meta = fs::metadata(&self.path).map_err(|e| self.io_error(e))?;
        let stamp = FileStamp::of(&meta);
        let now_s = unix_seconds(now);
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(read) = current.as_ref() {
            let fresh = read
                .expires_at
                .is_some_and(|exp| now_s.saturating_add(REREAD_BEFORE_EXPIRY.as_secs()) < exp);
            if read.stamp == stamp && fresh {
                return Ok(read.assertion.clone());
            }
        }
        // Changed, near its expiry, or never read: read it (again).
        *current = None;
        if meta.len() > MAX_ASSERTION_LEN {
            return Err(credential(format!(
                "the client assertion file {} is {} bytes; at most {MAX_ASSERTION_LEN} are read",
                self.path.display(),
                meta.len()
            )));
        }
        let text = fs::read_to_string(&self.path).map_err(|e| self.io_error(e))?;
        let assertion = text.trim().to_owned();
        let what = format!("the client assertion in {}", self.path.display());
        let expires_at = check_usable(&assertion, now, &what)?;
        *current = Some(Read {
            assertion: assertion.clone(),
            stamp,
            expires_at,
        });
        Ok(assertion)
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        credential(format!(
            "cannot read the client assertion file {}",
            self.path.display()
        ))
        .with_source(e)
    }
}

/// Checks that `assertion` is a JWT that has not expired, and returns its
/// `exp`. The signature is not checked: the authorization server does
/// that; this only keeps an assertion from being sent past its own `exp`
/// (RFC 7523 §3, item 4), which the server would refuse anyway, with a
/// less useful error.
fn check_usable(assertion: &str, now: SystemTime, what: &str) -> Result<Option<u64>> {
    if assertion.is_empty() {
        return Err(credential(format!("{what} is empty")));
    }
    let mut parts = assertion.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(credential(format!(
            "{what} is not a signed JWT (three dot-separated parts)"
        )));
    };
    let claims: serde_json::Map<String, Value> = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| credential(format!("{what} has no readable JSON claims")))?;
    let expires_at = match claims.get("exp") {
        None => None,
        Some(exp) => Some(exp.as_u64().ok_or_else(|| {
            credential(format!(
                "{what} has an `exp` that is not a NumericDate: {}",
                server_text(&exp.to_string(), 40)
            ))
        })?),
    };
    if let Some(exp) = expires_at {
        let now = unix_seconds(now);
        if exp <= now {
            return Err(credential(format!(
                "{what} expired {} s ago (`exp`) and has not been replaced",
                now - exp
            )));
        }
    }
    Ok(expires_at)
}

fn credential(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::ClientCredential, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(exp: Option<u64>) -> String {
        let claims = match exp {
            Some(exp) => serde_json::json!({"iss": "platform", "exp": exp}),
            None => serde_json::json!({"iss": "platform"}),
        };
        format!(
            "eyJhbGciOiJFUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn file_is_read_once_while_unchanged_and_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        fs::write(&path, format!("{}\n", jwt(Some(10_000)))).unwrap();
        let source = AssertionSource::file(path.clone());
        let first = source.assertion(at(1_000)).unwrap();
        assert_eq!(first, jwt(Some(10_000)), "trailing newline trimmed");
        // Kept while the file looks unchanged: same size, inode and mtime
        // (content swapped behind its back) still gives the first read.
        let modified = fs::metadata(&path).unwrap().modified().unwrap();
        let same_size = format!("{}\n", jwt(Some(10_001)));
        fs::write(&path, &same_size).unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        assert_eq!(
            source.assertion(at(1_000)).unwrap(),
            first,
            "not read again"
        );
        // The metadata is looked at every time.
        let kept = dir.path().join("kept");
        fs::rename(&path, &kept).unwrap();
        assert!(source.assertion(at(1_000)).is_err());
        fs::rename(&kept, &path).unwrap();
        // A rewrite with new content is read again.
        fs::write(&path, jwt(Some(20_000))).unwrap();
        let second = source.assertion(at(1_001)).unwrap();
        assert_eq!(second, jwt(Some(20_000)), "a rewritten file is read again");
    }

    #[test]
    fn an_assertion_near_its_expiry_is_read_again_and_never_sent_expired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        fs::write(&path, jwt(Some(1_100))).unwrap();
        let source = AssertionSource::file(path.clone());
        assert_eq!(source.assertion(at(1_000)).unwrap(), jwt(Some(1_100)));
        // 50 s before exp: read again; still the same token, still usable.
        assert_eq!(source.assertion(at(1_050)).unwrap(), jwt(Some(1_100)));
        // Past exp, not rotated: refused, with the file named.
        let e = source.assertion(at(1_100)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ClientCredential);
        assert!(e.to_string().contains("expired"), "{e}");
        assert!(e.to_string().contains("token"), "{e}");
        assert!(e.is_retryable(), "the platform may rotate it");
        // Rotated: used at once.
        fs::write(&path, jwt(Some(5_000))).unwrap();
        assert_eq!(source.assertion(at(1_101)).unwrap(), jwt(Some(5_000)));
    }

    #[test]
    fn a_rotated_symlink_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, link) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("token"),
        );
        fs::write(&a, jwt(Some(9_000))).unwrap();
        fs::write(&b, jwt(Some(9_999))).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&a, &link).unwrap();
            let source = AssertionSource::file(link.clone());
            assert_eq!(source.assertion(at(1_000)).unwrap(), jwt(Some(9_000)));
            // Kubernetes' atomic swap: a new link renamed over the old one.
            let tmp = dir.path().join("token.tmp");
            std::os::unix::fs::symlink(&b, &tmp).unwrap();
            fs::rename(&tmp, &link).unwrap();
            assert_eq!(source.assertion(at(1_001)).unwrap(), jwt(Some(9_999)));
        }
    }

    #[test]
    fn bad_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let source = AssertionSource::file(path.clone());
        let e = source.assertion(at(1)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ClientCredential);
        assert!(std::error::Error::source(&e).is_some(), "the io error kept");
        for bad in ["", "not-a-jwt", "a.b.c.d", "a.%%%.c"] {
            fs::write(&path, bad).unwrap();
            let e = source.assertion(at(1)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ClientCredential, "{bad:?}");
        }
        fs::write(
            &path,
            format!("h.{}.s", URL_SAFE_NO_PAD.encode(r#"{"exp":"tomorrow"}"#)),
        )
        .unwrap();
        assert!(source.assertion(at(1)).is_err());
        fs::write(&path, vec![b'a'; MAX_ASSERTION_LEN as usize + 1]).unwrap();
        assert!(source
            .assertion(at(1))
            .unwrap_err()
            .to_string()
            .contains("bytes"));
    }

    #[test]
    fn without_exp_the_file_is_read_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        fs::write(&path, jwt(None)).unwrap();
        let source = AssertionSource::file(path.clone());
        assert_eq!(source.assertion(at(1)).unwrap(), jwt(None));
        fs::remove_file(&path).unwrap();
        assert!(
            source.assertion(at(2)).is_err(),
            "nothing without an exp is kept"
        );
    }

    #[test]
    fn callbacks() {
        let source = AssertionSource::callback(|| Ok(jwt(Some(100))));
        assert_eq!(source.assertion(at(1)).unwrap(), jwt(Some(100)));
        assert!(source.assertion(at(100)).is_err(), "expired");
        let failing = AssertionSource::callback(|| Err("workload API unavailable".into()));
        let e = failing.assertion(at(1)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ClientCredential);
        assert!(e.to_string().contains("workload API unavailable"), "{e}");
    }
}
