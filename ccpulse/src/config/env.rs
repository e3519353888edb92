//! Environment overrides `CCPULSE__SECTION__KEY=value`, applied to the parsed TOML tree
//! before it is deserialized, so that they pass exactly the checks the file passes.
//!
//! - `__` separates key segments: `CCPULSE__TENANTS__ACME__QUEUES__SALES__SL_TARGET_PCT`
//!   is `tenants.acme.queues.sales.sl_target_pct`.
//! - A segment matches a key of the tree case-insensitively (so `ACME` finds a tenant
//!   written `[tenants.Acme]` in the file); a key the tree does not have yet is created
//!   in lower case.
//! - The value is read as a TOML value when it is one (`5`, `true`, `1.5`, `["mon"]`,
//!   `"quoted"`), else taken as the literal string (`host:9092`, `5m`, `Europe/Paris`,
//!   `08:00`). A number where the key takes a string (`CCPULSE__CONSUMER__GROUP_ID=42`)
//!   is taken as the string.
//! - Variables are applied in name order, so the result never depends on the order of
//!   the process environment.

use toml::{Table, Value};

use super::ConfigError;

/// The prefix of override variables (two underscores; `CCPULSE_CONFIG` is not one).
pub(crate) const ENV_PREFIX: &str = "CCPULSE__";

/// Whether `name` is an override variable.
pub(crate) fn is_override(name: &str) -> bool {
    name.get(..ENV_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(ENV_PREFIX))
}

/// One applied override.
#[derive(Debug, Clone)]
struct Override {
    var: String,
    /// The key path it set, spelled as in the tree.
    path: Vec<String>,
    /// The part of `path` that existed only because of this variable (a prefix of
    /// `path`): an error at or below it is this variable's doing.
    introduced: Vec<String>,
    /// The value as given.
    raw: String,
    /// Read as a non-string TOML value; may be retried as the raw string.
    typed: bool,
}

/// The overrides applied to a tree, to say which variable is behind an error.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    applied: Vec<Override>,
}

impl Overrides {
    /// Applies every `CCPULSE__…` variable of `env` to `tree`; other variables are
    /// ignored.
    ///
    /// # Errors
    /// [`ConfigError::EnvOverride`] for a variable with an empty key segment, one whose
    /// path goes through a value that is not a table, or one whose segment matches two
    /// keys that differ only in case.
    pub(crate) fn apply(
        tree: &mut Table,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(name, _)| is_override(name))
            .collect();
        vars.sort();
        let mut overrides = Self::default();
        for (var, raw) in vars {
            let segments: Vec<&str> = var[ENV_PREFIX.len()..].split("__").collect();
            if segments.iter().any(|segment| segment.is_empty()) {
                return Err(ConfigError::EnvOverride {
                    var,
                    message: "expected CCPULSE__SECTION__KEY, with `__` between non-empty \
                              key segments"
                        .to_owned(),
                });
            }
            let (value, typed) = read_value(&raw);
            let (path, introduced) =
                set(tree, &segments, value).map_err(|message| ConfigError::EnvOverride {
                    var: var.clone(),
                    message,
                })?;
            overrides.applied.push(Override {
                var,
                path,
                introduced,
                raw,
                typed,
            });
        }
        Ok(overrides)
    }

    /// The names of the variables applied, in order.
    pub(crate) fn vars(&self) -> Vec<String> {
        self.applied.iter().map(|o| o.var.clone()).collect()
    }

    /// The variable behind a deserialization error at `path`, if any: the last one that
    /// introduced `path` or one of its parents, else one that set something below
    /// `path` (errors inside some values, such as business hours, point at the value's
    /// root).
    pub(crate) fn blame(&self, path: &[String]) -> Option<&str> {
        self.blame_override(path).map(|o| o.var.as_str())
    }

    fn blame_override(&self, path: &[String]) -> Option<&Override> {
        if path.is_empty() {
            return None;
        }
        let applied = self.applied.iter().rev();
        applied
            .clone()
            .find(|o| path.starts_with(&o.introduced))
            .or_else(|| applied.clone().find(|o| o.path.starts_with(path)))
    }

    /// The variable that set the value a validation problem at the dotted `key` is
    /// about, if any.
    pub(crate) fn setter_of(&self, key: &str) -> Option<&str> {
        self.applied
            .iter()
            .rev()
            .find(|o| {
                let path = o.path.join(".");
                let introduced = o.introduced.join(".");
                path == key
                    || key == introduced
                    || key.starts_with(&format!("{introduced}."))
                    || path.starts_with(&format!("{key}."))
            })
            .map(|o| o.var.as_str())
    }

    /// When the error at `path` comes from an override that was read as a number,
    /// boolean or array, puts its raw string in its place instead and returns `true`
    /// (once per override): `CCPULSE__CONSUMER__TOPIC=2024` means the topic `"2024"`.
    pub(crate) fn retry_as_string(&mut self, tree: &mut Table, path: &[String]) -> bool {
        let Some(var) = self.blame_override(path).map(|o| o.var.clone()) else {
            return false;
        };
        let Some(found) = self.applied.iter_mut().rev().find(|o| o.var == var) else {
            return false;
        };
        if !found.typed {
            return false;
        }
        found.typed = false;
        match value_at(tree, &found.path) {
            Some(slot) => {
                *slot = Value::String(found.raw.clone());
                true
            }
            None => false,
        }
    }
}

/// The value of an override: a TOML value when the text is one, else the text itself.
/// Times and dates stay strings (`08:00` is an opening hour, not a TOML time).
fn read_value(raw: &str) -> (Value, bool) {
    match raw.parse::<Value>() {
        Ok(Value::String(text)) => (Value::String(text), false),
        Ok(Value::Datetime(_)) | Err(_) => (Value::String(raw.to_owned()), false),
        Ok(value) => (value, true),
    }
}

/// Sets `value` at `segments`, creating tables on the way. Returns the path as spelled
/// in the tree and the part of it that this call created (or the whole path when only
/// the value was replaced).
fn set(
    tree: &mut Table,
    segments: &[&str],
    value: Value,
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut table = tree;
    let mut path = Vec::with_capacity(segments.len());
    let mut created_at = None;
    let (last, parents) = segments
        .split_last()
        .ok_or_else(|| "no key after the prefix".to_owned())?;
    for segment in parents {
        let key = match find_key(table, segment, &path)? {
            Some(key) => key,
            None => {
                created_at.get_or_insert(path.len());
                segment.to_lowercase()
            }
        };
        path.push(key.clone());
        let entry = table
            .entry(key)
            .or_insert_with(|| Value::Table(Table::new()));
        table = match entry {
            Value::Table(inner) => inner,
            other => {
                return Err(format!(
                    "`{}` is {} in the configuration, not a table, so it has no key `{}`",
                    path.join("."),
                    article(other.type_str()),
                    last.to_lowercase()
                ));
            }
        };
    }
    let key = match find_key(table, last, &path)? {
        Some(key) => key,
        None => {
            created_at.get_or_insert(path.len());
            last.to_lowercase()
        }
    };
    path.push(key.clone());
    table.insert(key, value);
    let introduced = path[..=created_at.unwrap_or(path.len() - 1)].to_vec();
    Ok((path, introduced))
}

/// The key of `table` that `segment` names: exactly, else ignoring case.
fn find_key(table: &Table, segment: &str, parent: &[String]) -> Result<Option<String>, String> {
    if table.contains_key(segment) {
        return Ok(Some(segment.to_owned()));
    }
    let wanted = segment.to_lowercase();
    let mut matches = table.keys().filter(|key| key.to_lowercase() == wanted);
    match (matches.next(), matches.next()) {
        (None, _) => Ok(None),
        (Some(key), None) => Ok(Some(key.clone())),
        (Some(first), Some(second)) => {
            let at = if parent.is_empty() {
                String::new()
            } else {
                format!(" under `{}`", parent.join("."))
            };
            Err(format!(
                "`{segment}` matches both `{first}` and `{second}`{at}; rename one in the file"
            ))
        }
    }
}

fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

fn value_at<'a>(tree: &'a mut Table, path: &[String]) -> Option<&'a mut Value> {
    let (last, parents) = path.split_last()?;
    let mut table = tree;
    for key in parents {
        table = table.get_mut(key)?.as_table_mut()?;
    }
    table.get_mut(last)
}
