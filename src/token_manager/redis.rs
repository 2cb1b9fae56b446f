//! [`RedisTokenStore`]: tokens shared by a fleet through Redis (cargo
//! feature `redis`).

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::store::TokenStore;
use crate::error::{Error, Result};
use crate::grants::response::TokenEndpointResponse;
use crate::options::BoxFuture;

/// Deletes the key only if it still holds the caller's lock token.
const UNLOCK: &str = r#"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"#;
/// Deletes the stored token only if it is the one the caller names.
const REMOVE_IF: &str = r#"local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v).access_token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0"#;

/// A [`TokenStore`] in Redis, so every instance of a service shares one
/// token per expiry.
///
/// - Tokens are stored as JSON under the manager's key (issuer, client id, a
///   hash of the parameters and the DPoP key thumbprint; never a secret)
///   with a TTL of the token's remaining lifetime. Only the access token and
///   its metadata are stored; never client secrets, private keys, refresh or
///   ID tokens.
/// - The fetch lock is `SET key owner NX PX ttl`, released by a script that
///   deletes it only for its owner.
/// - A DPoP-bound token is useful to another instance only if it has the
///   same DPoP key; managers with different keys use different entries.
/// - Every operation has a short timeout; if Redis is down, the manager logs
///   a warning and fetches on its own.
///
/// ```no_run
/// use oidckit::{RedisTokenStore, TokenManager};
/// # fn f(config: oidckit::Configuration) -> Result<(), oidckit::Error> {
/// let tokens = TokenManager::builder(config)
///     .scope("read")
///     .store(RedisTokenStore::new("redis://127.0.0.1:6379/")?)
///     .build();
/// # Ok(()) }
/// ```
pub struct RedisTokenStore {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    timeout: Duration,
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection info may hold a password: show the address only.
        f.debug_struct("RedisTokenStore")
            .field(
                "addr",
                &self.client.get_connection_info().addr().to_string(),
            )
            .finish_non_exhaustive()
    }
}

impl RedisTokenStore {
    /// A store for the Redis at `url` (`redis://[:password@]host:port[/db]`).
    /// Nothing is connected until the first use.
    pub fn new(url: &str) -> Result<Self> {
        // Only the error's kind, not the error: its text may quote the URL,
        // and a Redis URL may carry a password.
        let client = redis::Client::open(url).map_err(|e| {
            Error::invalid_configuration(format!("invalid Redis URL ({:?})", e.kind()))
        })?;
        Ok(RedisTokenStore {
            client,
            connection: OnceCell::new(),
            timeout: Duration::from_secs(2),
        })
    }

    /// The timeout of each Redis operation (default 2 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn connection(&self) -> Result<ConnectionManager> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        self.connection
            .get_or_try_init(|| async {
                self.client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(store_error)
            })
            .await
            .cloned()
    }

    /// Runs one command under the timeout.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T> {
        let op = async {
            let mut conn = self.connection().await?;
            cmd.query_async::<T>(&mut conn).await.map_err(store_error)
        };
        tokio::time::timeout(self.timeout, op)
            .await
            .map_err(|_| Error::token_store("Redis did not answer in time"))?
    }
}

fn store_error(e: redis::RedisError) -> Error {
    Error::token_store("Redis").with_source(e)
}

fn eval(script: &str, key: &str, arg: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(1).arg(key).arg(arg);
    cmd
}

fn millis(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

impl TokenStore for RedisTokenStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<TokenEndpointResponse>>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("GET");
            cmd.arg(key);
            let Some(json) = self.run::<Option<String>>(cmd).await? else {
                return Ok(None);
            };
            // Something unreadable under our key is treated as absent: the
            // next save replaces it.
            Ok(serde_json::from_str(&json).ok())
        })
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        token: &'a TokenEndpointResponse,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let json = serde_json::to_string(token)
                .map_err(|e| Error::token_store("cannot serialise the token").with_source(e))?;
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(json).arg("PX").arg(millis(ttl));
            self.run::<()>(cmd).await
        })
    }

    fn remove<'a>(&'a self, key: &'a str, access_token: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.run::<i64>(eval(REMOVE_IF, key, access_token))
                .await
                .map(drop)
        })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            let owner = crate::jose::random_b64url(16)?;
            let mut cmd = redis::cmd("SET");
            cmd.arg(key)
                .arg(&owner)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl));
            let set: Option<String> = self.run(cmd).await?;
            Ok(set.map(|_| owner))
        })
    }

    fn unlock<'a>(&'a self, key: &'a str, lock_token: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.run::<i64>(eval(UNLOCK, key, lock_token))
                .await
                .map(drop)
        })
    }
}
