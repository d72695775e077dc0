//! The configuration's sections as the server's settings (the use cases' are
//! [`hub_runtime::settings`]).

use std::time::Duration;

use hub_config::{Config, EventsConfig, ServerConfig};

use crate::events_ws::LiveSettings;
use crate::shutdown::ServeSettings;
use crate::state::ApiSettings;

/// The API's settings, from `[server]` and `[events]`.
pub fn api_settings(config: &Config) -> ApiSettings {
    ApiSettings {
        default_currency: config.server.default_currency,
        body_limit: config.server.body_limit_bytes,
        probe_timeout: Duration::from_millis(config.server.probe_timeout_ms),
        live: live_settings(&config.events),
    }
}

/// How `/v1/events` connections are run, from `[events]`.
pub fn live_settings(events: &EventsConfig) -> LiveSettings {
    LiveSettings {
        send_buffer: events.send_buffer,
        heartbeat: Duration::from_secs(events.heartbeat_s),
        send_timeout: Duration::from_secs(events.send_timeout_s),
        max_subscribers: events.max_subscribers,
    }
}

/// How connections are served, from `[server]`.
pub fn serve_settings(server: &ServerConfig) -> ServeSettings {
    ServeSettings {
        grace: Duration::from_secs(server.shutdown_grace_s),
        header_read_timeout: Duration::from_secs(server.header_read_timeout_s),
        body_read_timeout: Duration::from_secs(server.body_read_timeout_s),
        max_connections: server.max_connections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sections left at their defaults give every setting's own default.
    #[test]
    fn the_configuration_defaults_are_the_settings_defaults() {
        let example = include_str!("../../../config/hub.example.toml");
        let (mut c, _) = hub_config::load_str("hub.example.toml", example, std::iter::empty()).unwrap();
        c.server = ServerConfig::default();
        c.events = EventsConfig::default();
        assert_eq!(api_settings(&c), ApiSettings::default());
        assert_eq!(serve_settings(&c.server), ServeSettings::default());
    }
}
