//! [`ConfigError`]: why the configuration could not be loaded, with the file, the key and
//! the environment variable an operator has to fix.

use std::fmt;
use std::path::PathBuf;

/// Where a value came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Nothing but the built-in defaults (no file, no override).
    Defaults,
    /// The TOML file given with `--config`.
    File(PathBuf),
    /// A `CCPULSE__…` environment variable, by name.
    Env(String),
    /// A command-line flag such as `--brokers`.
    Flags,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Defaults => f.write_str("no config file"),
            Origin::File(path) => write!(f, "config file `{}`", path.display()),
            Origin::Env(var) => write!(f, "environment variable `{var}`"),
            Origin::Flags => f.write_str("command-line flags"),
        }
    }
}

/// One invalid value found by validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Dotted key path, e.g. `tenants.acme.queues.sales.sl_target_pct`.
    pub(crate) key: String,
    /// What is wrong and what is expected.
    pub(crate) message: String,
    /// The `CCPULSE__…` variable that set the value, when one did.
    pub(crate) env_var: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.key)?;
        if let Some(var) = &self.env_var {
            write!(f, " (set by {var})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every way loading the configuration fails. Invalid configuration is returned to
/// `main`, never a panic.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file given with `--config` could not be read.
    #[error("reading config file `{}`", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML; the source shows line, column and the offending text.
    #[error("config file `{}` is not valid TOML", path.display())]
    ParseFile {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// A `CCPULSE__…` variable whose value is not UTF-8.
    #[error("environment variable `{var}` is not valid UTF-8")]
    EnvNotUnicode { var: String },
    /// A `CCPULSE__…` variable that cannot be placed in the configuration tree.
    #[error("environment variable `{var}`: {message}")]
    EnvOverride { var: String, message: String },
    /// A value of the wrong type, an unknown key, an unknown enum spelling.
    #[error("{origin}: `{key}`: {message}")]
    Deserialize {
        origin: Origin,
        key: String,
        message: String,
    },
    /// Values of the right type that are out of range or inconsistent, all of them.
    #[error("invalid configuration ({origin}):{}", list(problems))]
    Invalid {
        origin: Origin,
        problems: Vec<Problem>,
    },
    /// The effective configuration could not be written back as TOML.
    #[error("rendering the effective configuration as TOML")]
    Render {
        #[source]
        source: toml::ser::Error,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("\n  - {problem}"))
        .collect()
}
