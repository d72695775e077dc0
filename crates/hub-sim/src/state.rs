//! The simulation's shared state: each system's data behind its own short-held lock.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use crate::clock::SimClock;
use crate::config::{Credentials, Settings, SimConfig};
use crate::faults::Faults;
use crate::idempotency::IdempotencyStore;
use crate::ledger::{EffectKind, EffectRecord, Ledger, TokenCounters};
use crate::oauth::TokenStore;
use crate::payments;
use crate::rate_limits::RateLimits;
use crate::system::System;
use crate::systems::{generic, jira, notify, vault, zendesk};

/// Locks a mutex, carrying on after a panic elsewhere (the data stays usable for a simulation).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Idempotency records, one table per keyed route family.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyTables {
    pub(crate) generic: IdempotencyStore,
    pub(crate) zendesk: IdempotencyStore,
    pub(crate) jira: IdempotencyStore,
    pub(crate) drafts: IdempotencyStore,
    pub(crate) commits: IdempotencyStore,
    pub(crate) cancels: IdempotencyStore,
}

impl IdempotencyTables {
    fn clear(&self) {
        for t in [
            &self.generic,
            &self.zendesk,
            &self.jira,
            &self.drafts,
            &self.commits,
            &self.cancels,
        ] {
            t.clear();
        }
    }
}

/// Everything the handlers and the control API share. No lock is held across an await.
pub(crate) struct SimState {
    pub(crate) credentials: Credentials,
    pub(crate) base_url: String,
    pub(crate) seed: u64,
    initial_settings: Settings,
    settings: RwLock<Settings>,
    pub(crate) clock: SimClock,
    pub(crate) faults: Faults,
    pub(crate) ledger: Ledger,
    pub(crate) rate_limits: RateLimits,
    pub(crate) generic: Mutex<generic::Data>,
    pub(crate) zendesk: Mutex<zendesk::Data>,
    pub(crate) jira: Mutex<jira::Data>,
    pub(crate) money: Mutex<payments::Data>,
    pub(crate) vault: Mutex<vault::Data>,
    pub(crate) notifications: Mutex<Vec<notify::Notification>>,
    pub(crate) status_tokens: TokenStore,
    pub(crate) sales_tokens: TokenStore,
    pub(crate) zendesk_tokens: TokenStore,
    pub(crate) idempotency: IdempotencyTables,
    pub(crate) last_webhook_id: Mutex<Option<String>>,
}

impl SimState {
    /// `base_url` is the public base URL, written into answers.
    pub(crate) fn new(config: &SimConfig, base_url: String) -> Self {
        Self {
            credentials: config.credentials.clone(),
            base_url,
            seed: config.seed,
            initial_settings: config.settings,
            settings: RwLock::new(config.settings),
            clock: SimClock::default(),
            faults: Faults::new(config.seed, config.hang_max),
            ledger: Ledger::new(config.ledger_capacity),
            rate_limits: RateLimits::default(),
            generic: Mutex::new(generic::Data::seeded()),
            zendesk: Mutex::new(zendesk::Data::seeded()),
            jira: Mutex::new(jira::Data::seeded()),
            money: Mutex::new(payments::Data::seeded()),
            vault: Mutex::new(vault::Data::seeded(&config.credentials)),
            notifications: Mutex::new(Vec::new()),
            status_tokens: TokenStore::default(),
            sales_tokens: TokenStore::default(),
            zendesk_tokens: TokenStore::default(),
            idempotency: IdempotencyTables::default(),
            last_webhook_id: Mutex::new(None),
        }
    }

    /// The current run-time settings.
    pub(crate) fn settings(&self) -> Settings {
        *self.settings.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the run-time settings.
    pub(crate) fn set_settings(&self, settings: Settings) {
        *self.settings.write().unwrap_or_else(PoisonError::into_inner) = settings;
    }

    /// A system's public base URL (`http://127.0.0.1:PORT/zendesk`).
    pub(crate) fn system_url(&self, system: System) -> String {
        format!("{}{}", self.base_url, system.prefix())
    }

    /// Records an effect in the ledger.
    pub(crate) fn effect(&self, system: System, kind: EffectKind, id: &str, related: Option<&str>, key: Option<&str>) {
        self.ledger.record_effect(EffectRecord {
            seq: self.ledger.next_seq(),
            at: self.clock.now(),
            system,
            kind,
            id: id.to_owned(),
            related: related.map(str::to_owned),
            idempotency_key: key.map(str::to_owned),
            request_id: crate::ledger::current_request_id(),
        });
    }

    /// Token request counters of both OAuth2 systems.
    pub(crate) fn token_counters(&self) -> TokenCounters {
        TokenCounters {
            status: self.status_tokens.counts(),
            sales: self.sales_tokens.counts(),
        }
    }

    /// Back to the state the simulation started in: seeded data, no faults, no rate limits, empty ledger.
    pub(crate) fn reset(&self) {
        self.set_settings(self.initial_settings);
        self.clock.reset();
        self.faults.reset(self.seed);
        self.ledger.clear();
        self.rate_limits.clear();
        *lock(&self.generic) = generic::Data::seeded();
        *lock(&self.zendesk) = zendesk::Data::seeded();
        *lock(&self.jira) = jira::Data::seeded();
        *lock(&self.money) = payments::Data::seeded();
        *lock(&self.vault) = vault::Data::seeded(&self.credentials);
        lock(&self.notifications).clear();
        self.status_tokens.clear();
        self.sales_tokens.clear();
        self.zendesk_tokens.clear();
        self.idempotency.clear();
        *lock(&self.last_webhook_id) = None;
    }
}
