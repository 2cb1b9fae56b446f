//! [`AudienceTokenManager`]: one [`TokenManager`] per audience — per
//! `(resource, scope)` — for a service that calls several APIs, each of
//! which wants a token of its own (RFC 8707 §2: an access token restricted
//! to the resource it is for).
//!
//! Every audience gets its own cache entry, refresh ahead of expiry, single
//! flight and store key, built from one template (the same configuration,
//! HTTP client, DPoP key, store and settings). The audiences live in a
//! copy-on-write map: a lookup is one atomic load and a hash, never a lock;
//! adding an audience (rare) copies the map. The map is bounded: past
//! `max_audiences`, the audience used least recently is dropped (its token
//! with it; it is fetched again if asked for).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use url::Url;

use super::{TokenManager, TokenManagerBuilder};
use crate::error::Result;
use crate::grants::response::TokenEndpointResponse;

/// How many audiences an [`AudienceTokenManager`] keeps by default.
pub const DEFAULT_MAX_AUDIENCES: usize = 64;

/// What a token is for: the `resource` indicator (RFC 8707 §2) and the
/// `scope` to request. Either may be absent (a scope-only audience, a
/// resource with the server's default scope).
///
/// ```
/// use oidckit::TokenAudience;
///
/// let payments = TokenAudience::resource("https://payments.example.com").with_scope("charge");
/// let reports = TokenAudience::scope("reports:read");
/// assert_ne!(payments, reports);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TokenAudience {
    /// The `resource` parameter, if any.
    pub resource: Option<String>,
    /// The `scope` parameter, if any.
    pub scope: Option<String>,
}

impl TokenAudience {
    /// A token for the resource server at `resource` (an absolute URI,
    /// RFC 8707 §2).
    pub fn resource(resource: impl Into<String>) -> Self {
        TokenAudience {
            resource: Some(resource.into()),
            scope: None,
        }
    }

    /// A token for `scope`, without a resource indicator.
    pub fn scope(scope: impl Into<String>) -> Self {
        TokenAudience {
            resource: None,
            scope: Some(scope.into()),
        }
    }

    /// The same audience with `scope` (replacing any).
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }
}

/// Client credentials tokens for many audiences: a [`TokenManager`] per
/// [`TokenAudience`], made on first use from one template, so the service
/// that calls several APIs has one object, one configuration, one HTTP
/// client and one DPoP key. Built with
/// [`TokenManagerBuilder::build_per_audience`]. Cheap to clone; clones
/// share everything.
///
/// ```
/// use oidckit::testing::{MockAuthorizationServer, MockClient};
/// use oidckit::{ClientAuth, Configuration, TokenAudience, TokenManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = MockAuthorizationServer::builder()
/// #     .client(MockClient::client_secret_basic("svc", "s3cr3t")).start().await?;
/// # let config = Configuration::builder(server.server_metadata(), "svc", ClientAuth::client_secret_basic("s3cr3t"))
/// #     .allow_insecure_requests(true).build()?;
/// let tokens = TokenManager::builder(config).build_per_audience(16);
///
/// let payments = TokenAudience::resource("https://payments.example.com").with_scope("read");
/// let reports = TokenAudience::scope("write");
/// let a = tokens.token(&payments).await?;
/// let b = tokens.token(&reports).await?;
/// assert_ne!(a.access_token().secret(), b.access_token().secret());
/// // Cached per audience: no more requests.
/// tokens.token(&payments).await?;
/// assert_eq!(server.token_request_count(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AudienceTokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    template: TokenManagerBuilder,
    max_audiences: usize,
    managers: ArcSwap<HashMap<TokenAudience, Arc<Slot>>>,
    /// Held while the map is replaced, so two new audiences cannot lose
    /// each other.
    adding: Mutex<()>,
    /// A use counter: a lookup whose slot is not the most recently used
    /// one moves it and stamps the slot; the slot with the oldest stamp is
    /// the one used least recently. Repeated lookups of the same audience
    /// only read it.
    epoch: AtomicU64,
}

struct Slot {
    manager: TokenManager,
    last_used: AtomicU64,
}

impl fmt::Debug for AudienceTokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let managers = self.inner.managers.load();
        f.debug_struct("AudienceTokenManager")
            .field("template", &self.inner.template)
            .field("max_audiences", &self.inner.max_audiences)
            .field("audiences", &managers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TokenManagerBuilder {
    /// Builds an [`AudienceTokenManager`]: this builder becomes the template
    /// of one [`TokenManager`] per [`TokenAudience`], keeping at most
    /// `max_audiences` of them ([`DEFAULT_MAX_AUDIENCES`] is a fair choice;
    /// at least 1). An audience's `scope` replaces the template's, its
    /// `resource` replaces the template's resources; other parameters,
    /// DPoP, store, hooks and timings are the template's for every
    /// audience.
    pub fn build_per_audience(self, max_audiences: usize) -> AudienceTokenManager {
        AudienceTokenManager {
            inner: Arc::new(Inner {
                template: self,
                max_audiences: max_audiences.max(1),
                managers: ArcSwap::from_pointee(HashMap::new()),
                adding: Mutex::new(()),
                epoch: AtomicU64::new(0),
            }),
        }
    }
}

impl AudienceTokenManager {
    /// The manager of `audience`, made (and the least recently used one
    /// dropped, past the bound) if there is none. Use it where a
    /// [`TokenManager`] is wanted, e.g. for a `TokenMiddleware`.
    pub fn manager(&self, audience: &TokenAudience) -> TokenManager {
        self.with_manager(audience, TokenManager::clone)
    }

    /// Runs `f` on `audience`'s manager without cloning it (a clone writes
    /// the manager's reference count, which threads would contend for).
    fn with_manager<T>(&self, audience: &TokenAudience, f: impl FnOnce(&TokenManager) -> T) -> T {
        let inner = &*self.inner;
        if let Some(slot) = inner.managers.load().get(audience) {
            if slot.last_used.load(Ordering::Relaxed) != inner.epoch.load(Ordering::Relaxed) {
                let now = inner.epoch.fetch_add(1, Ordering::Relaxed) + 1;
                slot.last_used.store(now, Ordering::Relaxed);
            }
            return f(&slot.manager);
        }
        f(&self.add(audience))
    }

    fn add(&self, audience: &TokenAudience) -> TokenManager {
        let inner = &*self.inner;
        let _adding = inner.adding.lock().unwrap_or_else(|p| p.into_inner());
        let current = inner.managers.load_full();
        if let Some(slot) = current.get(audience) {
            // Added by another caller meanwhile.
            return slot.manager.clone();
        }
        let mut next = HashMap::clone(&current);
        while next.len() >= inner.max_audiences {
            let oldest = next
                .iter()
                .min_by_key(|(_, slot)| slot.last_used.load(Ordering::Relaxed))
                .map(|(audience, _)| audience.clone());
            match oldest {
                Some(oldest) => {
                    tracing::debug!(target: "oidckit::token_manager", ?oldest, "audience dropped");
                    next.remove(&oldest);
                }
                None => break,
            }
        }
        let epoch = inner.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        let manager = template_for(&inner.template, audience).build();
        next.insert(
            audience.clone(),
            Arc::new(Slot {
                manager: manager.clone(),
                last_used: AtomicU64::new(epoch),
            }),
        );
        inner.managers.store(Arc::new(next));
        manager
    }

    /// A valid token for `audience` (see [`TokenManager::token`]).
    pub async fn token(&self, audience: &TokenAudience) -> Result<Arc<TokenEndpointResponse>> {
        // The hot path, a cached token, without a clone of the manager.
        let manager = match self.with_manager(audience, |m| m.cached().ok_or_else(|| m.clone())) {
            Ok(token) => return Ok(token),
            Err(manager) => manager,
        };
        manager.token().await
    }

    /// The `Authorization` value for `audience`'s Bearer token (see
    /// [`TokenManager::authorization_header`]).
    pub async fn authorization_header(&self, audience: &TokenAudience) -> Result<HeaderValue> {
        self.manager(audience).authorization_header().await
    }

    /// The headers that authorize one `method` request to `url` with
    /// `audience`'s token, with a DPoP proof for a DPoP-bound token (see
    /// [`TokenManager::authorization_headers`]).
    pub async fn authorization_headers(
        &self,
        audience: &TokenAudience,
        method: &Method,
        url: &Url,
    ) -> Result<HeaderMap> {
        self.manager(audience)
            .authorization_headers(method, url)
            .await
    }

    /// The audiences held now.
    pub fn audiences(&self) -> Vec<TokenAudience> {
        self.inner.managers.load().keys().cloned().collect()
    }

    /// Forgets `audience` (its manager and cached token).
    pub fn remove(&self, audience: &TokenAudience) {
        let inner = &*self.inner;
        let _adding = inner.adding.lock().unwrap_or_else(|p| p.into_inner());
        let current = inner.managers.load_full();
        if current.contains_key(audience) {
            let mut next = HashMap::clone(&current);
            next.remove(audience);
            inner.managers.store(Arc::new(next));
        }
    }
}

/// The template with the audience's `scope` and `resource` in place of its
/// own.
fn template_for(template: &TokenManagerBuilder, audience: &TokenAudience) -> TokenManagerBuilder {
    let mut builder = template.clone();
    if let Some(scope) = &audience.scope {
        builder = builder.scope(scope.clone());
    }
    if let Some(resource) = &audience.resource {
        builder.params.retain(|(name, _)| name != "resource");
        builder = builder.resource(resource.clone());
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientAuth, Configuration, ServerMetadata};

    fn manager(max: usize) -> AudienceTokenManager {
        let server = ServerMetadata::new(
            "https://as.example",
            "https://as.example/token".parse().unwrap(),
        );
        let config = Configuration::new(server, "svc", ClientAuth::none()).unwrap();
        TokenManager::builder(config)
            .scope("default")
            .resource("https://template.example")
            .param("audience", "kept")
            .build_per_audience(max)
    }

    #[test]
    fn audiences_replace_scope_and_resource_of_the_template() {
        let m = manager(4);
        let params = |aud: &TokenAudience| {
            let built = template_for(&m.inner.template, aud);
            let mut p = built.params.clone();
            p.sort();
            p
        };
        let own = |pairs: &[(&str, &str)]| {
            let mut p: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            p.sort();
            p
        };
        assert_eq!(
            params(&TokenAudience::resource("https://a.example").with_scope("read")),
            own(&[
                ("audience", "kept"),
                ("resource", "https://a.example"),
                ("scope", "read")
            ])
        );
        assert_eq!(
            params(&TokenAudience::scope("write")),
            own(&[
                ("audience", "kept"),
                ("resource", "https://template.example"),
                ("scope", "write")
            ])
        );
    }

    #[test]
    fn bounded_dropping_the_least_recently_used() {
        let m = manager(2);
        let (a, b, c) = (
            TokenAudience::scope("a"),
            TokenAudience::scope("b"),
            TokenAudience::scope("c"),
        );
        let first_a = m.manager(&a);
        m.manager(&b);
        // `a` used again after `b` was added: `b` is the older one now.
        let again_a = m.manager(&a);
        assert!(
            Arc::ptr_eq(&first_a.inner, &again_a.inner),
            "one manager per audience"
        );
        m.manager(&c);
        let mut held = m.audiences();
        held.sort_by(|x, y| x.scope.cmp(&y.scope));
        assert_eq!(held, [a.clone(), c.clone()]);
        // `b` comes back as a new manager; `a` (least recently used now) goes.
        m.manager(&b);
        let mut held = m.audiences();
        held.sort_by(|x, y| x.scope.cmp(&y.scope));
        assert_eq!(held, [b.clone(), c.clone()]);
        m.remove(&c);
        assert_eq!(m.audiences(), [b]);
        assert_eq!(manager(0).inner.max_audiences, 1);
    }
}
