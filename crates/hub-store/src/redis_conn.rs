//! One way to open a Redis connection for the cache and the event bus: scheme checked, password never shown, every call bounded.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::StoreConfig;
use crate::error::{OpenError, redact_url};

/// A client and a lazily connecting, auto-reconnecting connection to `url`, whose
/// connects and responses are bounded by `redis_timeout_ms` so a dead Redis fails fast.
pub(crate) fn connect(url: &str, config: &StoreConfig) -> Result<(redis::Client, ConnectionManager), OpenError> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://")) {
        return Err(OpenError::UnsupportedScheme {
            url: redact_url(url),
            expected: "redis://host:port",
        });
    }
    let invalid = |e: redis::RedisError| OpenError::InvalidUrl {
        url: redact_url(url),
        reason: format!("{:?}", e.kind()),
    };
    let client = redis::Client::open(url).map_err(invalid)?;
    let timeout = call_timeout(config);
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(20))
        .set_max_delay(Duration::from_millis(200));
    let connection = ConnectionManager::new_lazy_with_config(client.clone(), manager_config).map_err(invalid)?;
    Ok((client, connection))
}

/// How long one Redis call may take (`redis_timeout_ms`, at least 1 ms).
pub(crate) fn call_timeout(config: &StoreConfig) -> Duration {
    Duration::from_millis(config.redis_timeout_ms.max(1))
}
