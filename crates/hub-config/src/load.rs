//! Loading a configuration: the file read, the `HUB__…` overrides applied, the result validated.

use std::path::{Path, PathBuf};

use crate::types::Config;
use crate::{ConfigError, ConfigErrors, ENV_PREFIX, Override, validate};

/// A configuration as loaded: the values, the file they came from, and which keys the
/// environment set.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// The file.
    pub file: PathBuf,
    /// The keys set by environment overrides (dotted, lower-case).
    pub overridden: Vec<String>,
}

impl Loaded {
    /// The directory the file is in (relative paths and the default SQLite file are resolved against it).
    pub fn dir(&self) -> PathBuf {
        self.file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    /// The `[store]` section for hub-store, with `database_url` defaulting to a SQLite
    /// file next to the configuration file.
    pub fn store_section(&self) -> toml::Table {
        let mut t = self.config.store.clone();
        if !t.contains_key("database_url") {
            let file = self.dir().join("hub.sqlite3");
            t.insert(
                "database_url".to_owned(),
                toml::Value::String(format!("sqlite://{}", file.display())),
            );
        }
        t
    }
}

/// Reads `file`, applies the `HUB__…` variables of `env`, and validates the result.
///
/// Every problem found is reported, each with the file, the key and the reason.
pub fn load(file: &Path, env: impl IntoIterator<Item = (String, String)>) -> Result<Loaded, ConfigErrors> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| {
        ConfigErrors::one(ConfigError {
            file: name.clone(),
            key: None,
            reason: format!("cannot read the file: {e}"),
            env: None,
        })
    })?;
    load_str(&name, &text, env).map(|(config, overridden)| Loaded {
        config,
        file: file.to_path_buf(),
        overridden,
    })
}

/// [`load`] over text already read; `name` is what errors call the file.
pub fn load_str(
    name: &str,
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Config, Vec<String>), ConfigErrors> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let reason = match e.span() {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                format!("line {line}, column {col}: {}", e.message())
            }
            None => e.message().to_owned(),
        };
        ConfigErrors::one(ConfigError {
            file: name.to_owned(),
            key: None,
            reason: format!("not valid TOML: {reason}"),
            env: None,
        })
    })?;
    let mut errors = Vec::new();
    let mut applied: Vec<Override> = Vec::new();
    let env: Vec<(String, String)> = env.into_iter().collect();
    for (var, value) in &env {
        if !var.starts_with(ENV_PREFIX) {
            continue;
        }
        match Override::parse(var, value) {
            Ok(o) => match o.apply(&mut table) {
                Ok(()) => applied.push(o),
                Err(e) => errors.push(ConfigError {
                    file: name.to_owned(),
                    key: Some(o.key()),
                    reason: e.to_string(),
                    env: Some(var.clone()),
                }),
            },
            Err(e) => errors.push(ConfigError {
                file: name.to_owned(),
                key: None,
                reason: e.to_string(),
                env: Some(var.clone()),
            }),
        }
    }
    let otel = otel_defaults(&mut table, &env);
    let env_for = |key: &str| {
        applied
            .iter()
            .find(|o| key == o.key() || key.starts_with(&format!("{}.", o.key())))
            .map(|o| o.var.clone())
            .or_else(|| otel.iter().find(|(k, _)| k == key).map(|(_, var)| var.clone()))
    };
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { None } else { Some(key) };
        let env = key.as_deref().and_then(env_for);
        ConfigErrors::one(ConfigError {
            file: name.to_owned(),
            key,
            reason: e.into_inner().to_string(),
            env,
        })
    })?;
    let problems = validate::validate(&config);
    if !problems.is_empty() {
        return Err(ConfigErrors(
            problems
                .into_iter()
                .map(|(key, reason)| ConfigError {
                    file: name.to_owned(),
                    env: env_for(&key),
                    key: Some(key),
                    reason,
                })
                .collect(),
        ));
    }
    Ok((
        config,
        applied
            .iter()
            .map(Override::key)
            .chain(otel.into_iter().map(|(key, _)| key))
            .collect(),
    ))
}

/// Fills the `[telemetry]` keys the file leaves out from the standard OpenTelemetry
/// variables in `env`; returns `(dotted key, variable)` for each one filled.
fn otel_defaults(table: &mut toml::Table, env: &[(String, String)]) -> Vec<(String, String)> {
    let mut filled = Vec::new();
    for (var, key) in crate::types::OTEL_VARIABLES {
        let Some((_, value)) = env.iter().find(|(v, _)| v == var) else {
            continue;
        };
        let Some(section) = table
            .entry("telemetry")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
        else {
            // `telemetry` is not a table: deserialising says so.
            return filled;
        };
        if section.contains_key(*key) || value.is_empty() {
            continue;
        }
        let value = match *key {
            // A number when it reads as one; else the text, which deserialising refuses.
            "sample_ratio" => value
                .trim()
                .parse::<f64>()
                .map_or_else(|_| toml::Value::String(value.clone()), toml::Value::Float),
            _ => toml::Value::String(value.clone()),
        };
        section.insert((*key).to_owned(), value);
        filled.push((format!("telemetry.{key}"), (*var).to_owned()));
    }
    filled
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
