//! Where a [`TokenManager`](crate::TokenManager) shares tokens: the
//! [`TokenStore`] trait, an in-process [`InMemoryTokenStore`], and (cargo
//! feature `redis`) [`RedisTokenStore`](crate::RedisTokenStore) for a fleet.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::grants::response::TokenEndpointResponse;

use crate::options::BoxFuture;

/// Shared storage for tokens, so several managers (in one process or across
/// a fleet) obtain one token per expiry instead of one each.
///
/// Keys are chosen by the manager: namespaced by issuer, client id, a hash
/// of the request parameters and the DPoP key thumbprint; never a secret.
/// Only access tokens and their metadata are stored: the manager strips
/// refresh and ID tokens before saving, and client secrets and keys never
/// reach a store.
///
/// Errors from a store never fail a token request that would have worked
/// without it: the manager logs a warning and fetches on its own.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The token stored under `key`, if any.
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<TokenEndpointResponse>>>;

    /// Stores `token` under `key` for `ttl` (the token's remaining lifetime).
    fn save<'a>(
        &'a self,
        key: &'a str,
        token: &'a TokenEndpointResponse,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>>;

    /// Removes the token under `key` if its access token is `access_token`
    /// (so an instance never removes a newer token another one just saved).
    fn remove<'a>(&'a self, key: &'a str, access_token: &'a str) -> BoxFuture<'a, Result<()>>;

    /// Tries to take the fetch lock for `key` for at most `ttl`: `Some`
    /// with a token that proves ownership, or `None` if another holder has
    /// it.
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration)
        -> BoxFuture<'a, Result<Option<String>>>;

    /// Releases the lock if `lock_token` still owns it.
    fn unlock<'a>(&'a self, key: &'a str, lock_token: &'a str) -> BoxFuture<'a, Result<()>>;
}

/// A [`TokenStore`] in this process's memory: share one between several
/// managers (for different parts of one service) with an `Arc`. A manager
/// without a store keeps its token in its own cache only.
#[derive(Default)]
pub struct InMemoryTokenStore {
    tokens: Mutex<HashMap<String, (TokenEndpointResponse, Instant)>>,
    locks: Mutex<HashMap<String, (String, Instant)>>,
}

impl fmt::Debug for InMemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.tokens.lock().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("InMemoryTokenStore")
            .field("tokens", &n)
            .finish_non_exhaustive()
    }
}

impl InMemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl TokenStore for InMemoryTokenStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<TokenEndpointResponse>>> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let found = match tokens.get(key) {
            Some((token, until)) if Instant::now() < *until => Some(token.clone()),
            Some(_) => {
                tokens.remove(key);
                None
            }
            None => None,
        };
        ready(Ok(found))
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        token: &'a TokenEndpointResponse,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.insert(key.to_owned(), (token.clone(), Instant::now() + ttl));
        ready(Ok(()))
    }

    fn remove<'a>(&'a self, key: &'a str, access_token: &'a str) -> BoxFuture<'a, Result<()>> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens
            .get(key)
            .is_some_and(|(t, _)| t.access_token().secret() == access_token)
        {
            tokens.remove(key);
        }
        ready(Ok(()))
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<String>>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let taken = locks.get(key).is_some_and(|(_, until)| now < *until);
        let result = if taken {
            Ok(None)
        } else {
            crate::jose::random_b64url(16).map(|owner| {
                locks.insert(key.to_owned(), (owner.clone(), now + ttl));
                Some(owner)
            })
        };
        ready(result)
    }

    fn unlock<'a>(&'a self, key: &'a str, lock_token: &'a str) -> BoxFuture<'a, Result<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if locks.get(key).is_some_and(|(owner, _)| owner == lock_token) {
            locks.remove(key);
        }
        ready(Ok(()))
    }
}
