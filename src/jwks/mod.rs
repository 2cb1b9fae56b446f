//! The authorization server's signing keys: fetching its JWK Set from
//! `jwks_uri` and caching it.
//!
//! One cache per [`Configuration`] (shared by its clones). The keys are
//! reused for [`jwks_max_age`](crate::ConfigurationBuilder::jwks_max_age)
//! (default 300 s, as openid-client), and fetched again early when a JWT
//! names a key the set does not have (the server rotated its keys) — but at
//! most once per [`MIN_REFETCH_INTERVAL`], so forged `kid`s cannot make the
//! client hammer the server. However many validations need a fetch at once,
//! they share one request (a single flight).
//!
//! The cache can be exported and imported
//! ([`Configuration::export_jwks_cache`], [`Configuration::import_jwks_cache`],
//! like openid-client's `getJwksCache`/`setJwksCache`), so a process that
//! starts cold can skip the first fetch.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use openssl::pkey::{PKey, Public};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::unix_seconds;
use crate::config::Configuration;
use crate::endpoint::response::expect_status;
use crate::endpoint::EndpointContext;
use crate::error::{Error, ErrorKind, Result};
use crate::jose::{JwkSet, JwsAlgorithm};
use crate::token_manager::single_flight::{Begin, SingleFlight};
use crate::transport::{self, EndpointResponse};
use crate::EndpointRequest;

/// The shortest time between two fetches of the JWK Set caused by a JWT
/// whose key is not in it (openid-client's rule).
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Default for how long fetched keys are used before fetching them again.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(300);

/// Builds the request for the server's JWK Set (the low-level half of the
/// JWKS cache's fetch): a `GET` of `jwks_uri`, which must be `https:` unless
/// insecure requests are allowed.
pub fn build_jwks_request(ctx: &EndpointContext<'_>) -> Result<EndpointRequest> {
    let url = ctx
        .server
        .jwks_uri
        .as_ref()
        .ok_or_else(|| Error::missing_metadata("jwks_uri"))?;
    transport::check_url(url, ctx.allow_insecure_requests)?;
    let mut request = EndpointRequest::get_json(url.clone());
    // RFC 7517 §8.5: the JWK Set media type, JSON as a fallback.
    request.headers_mut().insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static(
            "application/jwk-set+json, application/json;q=0.9",
        ),
    );
    Ok(request)
}

/// Processes the JWK Set response: a 200 with a JSON object that has a
/// `keys` array (duplicate members refused).
pub fn process_jwks_response(response: &EndpointResponse) -> Result<JwkSet> {
    let with_context = |e: Error| e.with_response_context(response.url(), response.status());
    expect_status(response, StatusCode::OK).map_err(with_context)?;
    let map = transport::json_object(response.headers(), response.body()).map_err(with_context)?;
    JwkSet::from_map(map).map_err(with_context)
}

/// A JWKS cache entry in a form that can be stored (JSON, through serde)
/// and loaded into another process's [`Configuration`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JwksCacheSnapshot {
    /// The JWK Set document as fetched.
    pub jwks: Map<String, Value>,
    /// When it was fetched, in seconds since the Unix epoch.
    pub fetched_at: u64,
}

/// The keys fetched last and when.
#[derive(Clone)]
struct Fetched {
    keys: Arc<JwkSet>,
    at: SystemTime,
}

/// The cache of one [`Configuration`] (and its clones).
pub(crate) struct JwksCache {
    last: Mutex<Option<Fetched>>,
    flight: SingleFlight<Fetched>,
}

impl JwksCache {
    pub(crate) fn new() -> Self {
        JwksCache {
            last: Mutex::new(None),
            flight: SingleFlight::default(),
        }
    }

    fn last(&self) -> Option<Fetched> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn store(&self, fetched: Fetched) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(fetched);
    }

    pub(crate) fn export(&self) -> Option<JwksCacheSnapshot> {
        self.last().map(|f| JwksCacheSnapshot {
            jwks: f.keys.to_json().clone(),
            fetched_at: unix_seconds(f.at),
        })
    }

    pub(crate) fn import(&self, snapshot: JwksCacheSnapshot) -> Result<()> {
        let keys =
            JwkSet::from_map(snapshot.jwks).map_err(|e| e.with_kind(ErrorKind::InvalidInput))?;
        self.store(Fetched {
            keys: Arc::new(keys),
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(snapshot.fetched_at),
        });
        Ok(())
    }
}

/// The public key for a JWT with `alg` and `kid` from `config`'s server:
/// from the cache while fresh, else fetched (once for all callers); fetched
/// again when no key matches and the keys are older than
/// [`MIN_REFETCH_INTERVAL`].
pub(crate) async fn key_for(
    config: &Configuration,
    alg: JwsAlgorithm,
    kid: Option<&str>,
) -> Result<PKey<Public>> {
    let keys = keys_for(config, alg, kid).await?;
    keys.select(alg, kid).cloned()
}

/// The server's JWK Set, holding a key for `alg` and `kid` (see
/// [`key_for`]); the selection error when it has none even after a refetch.
pub(crate) async fn keys_for(
    config: &Configuration,
    alg: JwsAlgorithm,
    kid: Option<&str>,
) -> Result<Arc<JwkSet>> {
    let keys = keys(config, config.jwks_max_age()).await?;
    match keys.keys.select(alg, kid) {
        Ok(_) => Ok(keys.keys),
        Err(e) if e.kind() == ErrorKind::KeySelection => {
            // Perhaps rotated: fetch again unless the keys are recent.
            match keys_newer_than(config, keys.at, MIN_REFETCH_INTERVAL).await? {
                Some(newer) => newer.keys.select(alg, kid).map(|_| newer.keys.clone()),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// The cached keys if younger than `max_age`, else fresh ones.
async fn keys(config: &Configuration, max_age: Duration) -> Result<Fetched> {
    let cache = config.jwks_cache();
    let now = config.clock().now();
    if let Some(last) = cache.last() {
        if age(now, last.at) < max_age {
            return Ok(last);
        }
    }
    fetch(config, move |last| {
        last.filter(|l| age(now, l.at) < max_age)
    })
    .await
}

/// Keys fetched after `seen` (by another caller, or now if `seen` is older
/// than `min_interval`); `None` when it is too early to fetch again.
async fn keys_newer_than(
    config: &Configuration,
    seen: SystemTime,
    min_interval: Duration,
) -> Result<Option<Fetched>> {
    let now = config.clock().now();
    if age(now, seen) < min_interval {
        // Another caller may have fetched since: use that.
        return Ok(config.jwks_cache().last().filter(|l| l.at > seen));
    }
    fetch(config, move |last| last.filter(|l| l.at > seen))
        .await
        .map(Some)
}

/// Joins the fetch in flight, or — unless `good_enough` accepts the cached
/// keys (checked under the flight's lock, so two callers cannot both
/// decide to fetch) — starts one.
async fn fetch(
    config: &Configuration,
    good_enough: impl FnOnce(Option<Fetched>) -> Option<Fetched>,
) -> Result<Fetched> {
    let cache = config.jwks_cache();
    let owned = config.clone();
    cache
        .flight
        .join_or_begin(move || match good_enough(cache.last()) {
            Some(fresh) => Begin::Done(Ok(fresh)),
            None => Begin::Run(async move {
                let keys = fetch_jwks(&owned).await?;
                let fetched = Fetched {
                    keys: Arc::new(keys),
                    at: owned.clock().now(),
                };
                owned.jwks_cache().store(fetched.clone());
                Ok(fetched)
            }),
        })
        .result()
        .await
}

/// One request for the JWK Set.
async fn fetch_jwks(config: &Configuration) -> Result<JwkSet> {
    let request = build_jwks_request(&config.context())?;
    let response = transport::execute(
        &config.transport(),
        request.into_reqwest(config.http_client())?,
        "jwks",
        None,
    )
    .await?;
    process_jwks_response(&response)
}

fn age(now: SystemTime, at: SystemTime) -> Duration {
    now.duration_since(at).unwrap_or_default()
}
