//! The configuration's sections as the server's and the application's settings.

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

/// The use cases' tunables, from `[idempotency]`, `[dlq]` and `[server]`.
pub fn app_settings(config: &Config) -> hub_app::Settings {
    hub_app::Settings {
        idempotency_lease: Duration::from_secs(config.idempotency.lease_s),
        replay_lease: Duration::from_secs(config.dlq.replay_lease_s),
        max_write_tasks: config.server.max_write_tasks,
    }
}

/// How supervisor alerts are aggregated, from `[notify]`.
pub fn alert_settings(config: &Config) -> hub_app::AlertSettings {
    hub_app::AlertSettings {
        window: Duration::from_secs(config.notify.window_s),
        max_samples: config.notify.max_samples,
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
        c.idempotency = hub_config::IdempotencyConfig::default();
        c.dlq = hub_config::DlqConfig::default();
        c.notify = hub_config::NotifyConfig::default();
        assert_eq!(api_settings(&c), ApiSettings::default());
        assert_eq!(serve_settings(&c.server), ServeSettings::default());
        assert_eq!(app_settings(&c), hub_app::Settings::default());
        assert_eq!(alert_settings(&c), hub_app::AlertSettings::default());
    }
}
