//! Environment overrides: `HUB__SECTION__KEY=value` sets `section.key`, typed like the
//! value it replaces (a string stays a string even when it looks like a number).

use std::fmt;

/// Why an override variable cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// The name is not `HUB__` followed by `__`-separated segments of `A-Z a-z 0-9 _`.
    #[error("not an override name (expected HUB__SECTION__KEY with segments of letters, digits and '_')")]
    BadName,
    /// The path runs through a value that is not a table.
    #[error("{0} is not a table, so it has no keys")]
    NotATable(String),
    /// The value cannot have the type of the value it replaces.
    #[error("expected {expected}")]
    WrongType {
        /// The type of the value being replaced.
        expected: &'static str,
    },
}

/// Splits an override variable name into its lower-case key path.
///
/// ```
/// use hub_config::parse_override_key;
/// assert_eq!(parse_override_key("HUB__ADAPTERS__TICKETING__BASE_URL").unwrap(), ["adapters", "ticketing", "base_url"]);
/// assert!(parse_override_key("HUB__").is_err());
/// assert!(parse_override_key("HUB__A____B").is_err());
/// ```
pub fn parse_override_key(var: &str) -> Result<Vec<String>, OverrideError> {
    let rest = var.strip_prefix(super::ENV_PREFIX).ok_or(OverrideError::BadName)?;
    let segments: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    let ok = |s: &String| {
        !s.is_empty()
            && !s.starts_with('_')
            && !s.ends_with('_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if segments.iter().all(ok) {
        Ok(segments)
    } else {
        Err(OverrideError::BadName)
    }
}

/// One override.
#[derive(Clone, PartialEq, Eq)]
pub struct Override {
    /// The variable's name.
    pub var: String,
    /// The key path.
    pub path: Vec<String>,
    value: String,
}

impl fmt::Debug for Override {
    // The value may be anything an operator typed; it is not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Override")
            .field("var", &self.var)
            .finish_non_exhaustive()
    }
}

impl Override {
    /// Parses `var=value`.
    pub fn parse(var: &str, value: &str) -> Result<Self, OverrideError> {
        Ok(Self {
            var: var.to_owned(),
            path: parse_override_key(var)?,
            value: value.to_owned(),
        })
    }

    /// The dotted key.
    pub fn key(&self) -> String {
        self.path.join(".")
    }

    /// Sets the key in `table`, creating tables on the way; the value takes the type of
    /// the value it replaces, or is inferred (boolean, integer, float, TOML array) for a new key.
    pub fn apply(&self, table: &mut toml::Table) -> Result<(), OverrideError> {
        let Some((last, parents)) = self.path.split_last() else {
            return Err(OverrideError::BadName);
        };
        let mut t = table;
        for (i, seg) in parents.iter().enumerate() {
            let entry = t
                .entry(seg.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            t = match entry {
                toml::Value::Table(inner) => inner,
                _ => return Err(OverrideError::NotATable(self.path[..=i].join("."))),
            };
        }
        let value = typed(&self.value, t.get(last))?;
        t.insert(last.clone(), value);
        Ok(())
    }
}

fn typed(raw: &str, existing: Option<&toml::Value>) -> Result<toml::Value, OverrideError> {
    use toml::Value as V;
    let wrong = |expected| OverrideError::WrongType { expected };
    Ok(match existing {
        Some(V::String(_)) => V::String(raw.to_owned()),
        Some(V::Integer(_)) => V::Integer(raw.trim().parse().map_err(|_| wrong("an integer"))?),
        Some(V::Float(_)) => V::Float(raw.trim().parse().map_err(|_| wrong("a number"))?),
        Some(V::Boolean(_)) => V::Boolean(raw.trim().parse().map_err(|_| wrong("true or false"))?),
        Some(V::Array(_)) => parse_toml_value(raw)
            .filter(toml::Value::is_array)
            .ok_or_else(|| wrong("a TOML array, e.g. [\"a\", \"b\"]"))?,
        Some(V::Table(_)) => return Err(wrong("a table: set its keys one by one")),
        Some(V::Datetime(_)) => parse_toml_value(raw)
            .filter(toml::Value::is_datetime)
            .ok_or_else(|| wrong("a TOML date-time"))?,
        None => match parse_toml_value(raw) {
            Some(v @ (V::Boolean(_) | V::Integer(_) | V::Float(_) | V::Array(_))) => v,
            _ => V::String(raw.to_owned()),
        },
    })
}

fn parse_toml_value(raw: &str) -> Option<toml::Value> {
    let doc: toml::Table = format!("v = {raw}").parse().ok()?;
    doc.get("v").cloned()
}
