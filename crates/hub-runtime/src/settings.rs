//! The configuration's sections as the use cases' settings.

use std::time::Duration;

use hub_config::Config;

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
        c.server = hub_config::ServerConfig::default();
        c.idempotency = hub_config::IdempotencyConfig::default();
        c.dlq = hub_config::DlqConfig::default();
        c.notify = hub_config::NotifyConfig::default();
        assert_eq!(app_settings(&c), hub_app::Settings::default());
        assert_eq!(alert_settings(&c), hub_app::AlertSettings::default());
    }
}
