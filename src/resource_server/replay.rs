//! Remembering DPoP proofs for as long as they are acceptable, so that a
//! captured proof cannot be sent again (RFC 9449 §11.1).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

/// Where a resource server remembers the proofs (their `jti`, per key) it
/// has accepted, until they could no longer be accepted anyway. One
/// process: [`InMemoryReplayCache`]; a fleet behind a load balancer shares
/// one of its own (e.g. Redis `SET key NX PX`), or asks for server nonces,
/// which bound a proof's life to the nonce's.
pub trait ReplayCache: Send + Sync {
    /// Records `key` until `expires`, and says whether it was new (an entry
    /// that expired by `now` does not count). Must be atomic: of two calls
    /// with the same key, one gets `true`.
    fn insert_if_absent(&self, key: &[u8; 32], now: SystemTime, expires: SystemTime) -> bool;
}

/// A bounded in-memory [`ReplayCache`]. When full of entries that have not
/// expired it refuses new proofs ("seen") rather than forget one that might
/// come back: an attacker who floods it gets refusals, never a replay.
/// Size it for the proofs of one window: requests per second × the proof
/// window (60 s by default).
pub struct InMemoryReplayCache {
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], SystemTime>>,
}

impl std::fmt::Debug for InMemoryReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryReplayCache")
            .field("capacity", &self.capacity)
            .field("len", &self.lock().len())
            .finish()
    }
}

impl InMemoryReplayCache {
    /// A cache for at most `capacity` proofs at a time (at least 1).
    pub fn new(capacity: usize) -> Self {
        InMemoryReplayCache {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], SystemTime>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ReplayCache for InMemoryReplayCache {
    fn insert_if_absent(&self, key: &[u8; 32], now: SystemTime, expires: SystemTime) -> bool {
        let mut entries = self.lock();
        if entries.get(key).is_some_and(|until| *until > now) {
            return false;
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, until| *until > now);
            if entries.len() >= self.capacity {
                tracing::warn!(
                    target: "oidckit::resource_server",
                    capacity = self.capacity,
                    "DPoP replay cache full: proofs refused until entries expire"
                );
                return false;
            }
        }
        entries.insert(*key, expires);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn seen_until_expiry_bounded_and_failing_closed() {
        let cache = InMemoryReplayCache::new(2);
        let (a, b, c) = ([1; 32], [2; 32], [3; 32]);
        assert!(cache.insert_if_absent(&a, at(0), at(60)));
        assert!(!cache.insert_if_absent(&a, at(59), at(119)), "replayed");
        assert!(cache.insert_if_absent(&b, at(10), at(70)));
        // Full of live entries: refused, not forgotten.
        assert!(!cache.insert_if_absent(&c, at(20), at(80)));
        // Once `a` expired there is room again, and `a` may come back
        // (its proof is too old by then anyway).
        assert!(cache.insert_if_absent(&c, at(61), at(121)));
        assert!(cache.insert_if_absent(&a, at(71), at(131)));
    }
}
