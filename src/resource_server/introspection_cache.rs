//! Opaque access tokens, validated by asking the authorization server
//! (RFC 7662) and remembering the answer: a bounded cache keyed by a hash of
//! the token (never the token itself, so a memory dump of the cache yields
//! no usable token), entries that end no later than the token, refusals
//! remembered briefly, and one introspection request per token however many
//! requests bring it at once.
//!
//! The key is 128 bits of SipHash under two random keys of this process:
//! a keyed hash, so nobody outside can aim two tokens at one entry, and
//! fast enough for a cache hit to cost well under the 200 ns budget (a
//! SHA-256 through OpenSSL alone costs about that).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::access_token::AccessTokenClaims;
use crate::clock::unix_seconds;
use crate::config::Configuration;
use crate::error::{Error, ErrorKind};
use crate::jose::claims::mismatch;
use crate::token_manager::single_flight::{Begin, SingleFlight};
use crate::tokens::introspection::token_introspection;

/// How an [`ResourceServer`](super::ResourceServer) caches introspection
/// answers for opaque tokens.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct IntrospectionCacheSettings {
    /// The most answers kept (default 10,000).
    pub capacity: usize,
    /// How long an active token's answer is kept at most, also when the
    /// token lives longer: a revoked token is refused within this time
    /// (default 60 s).
    pub max_ttl: Duration,
    /// How long an inactive answer is kept, so a flood of one bad token
    /// does not become a flood of introspection requests (default 5 s).
    pub negative_ttl: Duration,
}

impl Default for IntrospectionCacheSettings {
    fn default() -> Self {
        IntrospectionCacheSettings {
            capacity: 10_000,
            max_ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
        }
    }
}

impl IntrospectionCacheSettings {
    /// The default settings with another capacity.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The default settings with another maximum lifetime of an entry.
    pub fn max_ttl(mut self, ttl: Duration) -> Self {
        self.max_ttl = ttl;
        self
    }

    /// The default settings with another lifetime of a refusal.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }
}

/// The map's hasher: its keys are already keyed hashes, so their low bits
/// serve as they are.
#[derive(Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used; any other input still hashes.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

type ByHash<V> = HashMap<u128, V, BuildHasherDefault<KeyIsHash>>;

/// An answer: the claims of an active token, or why it is refused.
type Answer = std::result::Result<Arc<AccessTokenClaims>, Error>;

#[derive(Clone)]
struct Entry {
    answer: Answer,
    until: SystemTime,
}

pub(crate) struct IntrospectionCache {
    settings: IntrospectionCacheSettings,
    /// The two keys of the token hash.
    hashers: (RandomState, RandomState),
    entries: Mutex<ByHash<Entry>>,
    flights: Mutex<ByHash<SingleFlight<Answer>>>,
}

impl IntrospectionCache {
    pub(crate) fn new(settings: IntrospectionCacheSettings) -> Self {
        IntrospectionCache {
            settings,
            hashers: (RandomState::new(), RandomState::new()),
            entries: Mutex::new(ByHash::default()),
            flights: Mutex::new(ByHash::default()),
        }
    }

    fn key(&self, token: &str) -> u128 {
        let (a, b) = &self.hashers;
        (u128::from(a.hash_one(token)) << 64) | u128::from(b.hash_one(token))
    }

    fn cached(&self, key: &u128, now: SystemTime) -> Option<Answer> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|e| e.until > now)
            .map(|e| e.answer.clone())
    }

    fn store(&self, key: u128, entry: Entry, now: SystemTime) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.settings.capacity && !entries.contains_key(&key) {
            entries.retain(|_, e| e.until > now);
            // Still full: drop the entry that would end first (any entry
            // may go: it is only asked for again).
            if entries.len() >= self.settings.capacity {
                if let Some(first) = entries.iter().min_by_key(|(_, e)| e.until).map(|(k, _)| *k) {
                    entries.remove(&first);
                }
            }
        }
        entries.insert(key, entry);
    }

    /// The claims of `token` for `audience`: cached, or introspected once
    /// for all callers.
    pub(crate) async fn claims(
        self: &Arc<Self>,
        config: &Configuration,
        token: &str,
        audience: &str,
    ) -> Answer {
        let key = self.key(token);
        let now = config.clock().now();
        if let Some(answer) = self.cached(&key, now) {
            return answer;
        }
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            flights.retain(|_, f| f.is_running());
            let single = flights.entry(key).or_default();
            let (cache, config, token, audience) = (
                self.clone(),
                config.clone(),
                token.to_owned(),
                audience.to_owned(),
            );
            single.join_or_begin(move || match cache.cached(&key, now) {
                Some(answer) => Begin::Done(Ok(answer)),
                None => Begin::Run(async move {
                    let answer = introspect(&config, &token, &audience).await;
                    if let Some(entry) = cache.entry_for(&answer, config.clock().now()) {
                        cache.store(key, entry, config.clock().now());
                    }
                    Ok(answer)
                }),
            })
        };
        match flight.result().await {
            Ok(answer) => answer,
            Err(e) => Err(e),
        }
    }

    /// What to keep of an answer, and until when; failures to ask are not
    /// kept (the next request asks again).
    fn entry_for(&self, answer: &Answer, now: SystemTime) -> Option<Entry> {
        let until = match answer {
            Ok(claims) => {
                let ceiling = now + self.settings.max_ttl;
                match claims.expires_at() {
                    Some(exp) => ceiling.min(SystemTime::UNIX_EPOCH + Duration::from_secs(exp)),
                    None => ceiling,
                }
            }
            Err(e)
                if e.kind() == ErrorKind::ClaimComparison
                    || e.kind() == ErrorKind::TimestampCheck =>
            {
                now + self.settings.negative_ttl
            }
            Err(_) => return None,
        };
        Some(Entry {
            answer: answer.clone(),
            until,
        })
    }
}

/// One introspection request, and the checks of its answer: `active`, not
/// expired, for this resource when it names audiences (RFC 7662 §4: the
/// resource server decides what the answer allows).
async fn introspect(config: &Configuration, token: &str, audience: &str) -> Answer {
    let answer = token_introspection(config, token, Some("access_token")).await?;
    if !answer.active {
        return Err(mismatch(
            "the access token is not active (introspection)".into(),
        ));
    }
    let now = unix_seconds(config.clock().now());
    if answer.exp.is_some_and(|exp| exp <= now) {
        return Err(Error::new(
            ErrorKind::TimestampCheck,
            "the access token has expired (introspection `exp`)",
        ));
    }
    if let Some(aud) = &answer.aud {
        if !aud.iter().any(|a| a == audience) {
            return Err(mismatch(format!(
                "the access token is not for this resource: its `aud` does not contain {audience:?}"
            )));
        }
    }
    if let Some(iss) = &answer.iss {
        if iss != config.issuer() {
            return Err(mismatch(format!(
                "the introspection answer's `iss` is not the issuer {:?}",
                config.issuer()
            )));
        }
    }
    let map = match serde_json::to_value(&answer) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(Error::invalid_response(
                "an introspection answer that is not an object",
            ))
        }
    };
    AccessTokenClaims::from_claims(map).map(Arc::new)
}
