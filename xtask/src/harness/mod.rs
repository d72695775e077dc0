//! The one way `cargo xtask` starts hub-sim and hubs, shared by the demo, the benchmarks
//! and the chaos scenarios: the binaries built once, a run directory, configurations
//! written into it from `config/demo.toml`, processes started with their output in log
//! files, waited for until ready, killed, restarted and always stopped.

pub(crate) mod build;
pub(crate) mod config;
pub(crate) mod http;
mod hubs;
pub(crate) mod interrupt;
mod procs;
pub(crate) mod run_dir;
mod schema;

pub(crate) use self::build::Binaries;
pub(crate) use self::config::{TEMPLATE, Tokens, random_hex, secrets_env};
pub(crate) use self::hubs::{Harness, HubProc, HubSpec};
pub(crate) use self::interrupt::{INTERRUPTED, interrupted, pause, watch_interrupts};
pub(crate) use self::procs::{cpu_seconds, rss_bytes};
pub(crate) use self::schema::Schema;
