//! [`SettingsStore`]: tenant and queue settings changed through the API, persisted in
//! `<data_dir>/api/settings.json` and applied to the running aggregator.
//!
//! Precedence: a tenant saved through the API replaces that tenant's section of the
//! configuration file as a whole (every command that reads the data directory applies
//! the file: `serve`, `ingest`, `sql`, `report`); other tenants keep the file's settings.
//! A change takes effect for the events folded after it; rows already folded keep the
//! settings they were computed with (interval rows carry their threshold).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ccpulse_ingest::fold::FoldConfig;
use ccpulse_schemas::settings::TenantSettings;
use serde::{Deserialize, Serialize};

const FORMAT_VERSION: u32 = 1;

/// Tenants whose settings were saved through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSettings {
    version: u32,
    pub tenants: BTreeMap<String, TenantSettings>,
}

/// Why the settings file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the settings file `{path}` is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl SavedSettings {
    /// The settings file under a data directory.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("api").join("settings.json")
    }

    /// Reads the file (empty when there is none).
    ///
    /// # Errors
    /// The file exists and cannot be read, is not a settings file, or holds settings that
    /// do not validate.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    version: FORMAT_VERSION,
                    tenants: BTreeMap::new(),
                });
            }
            Err(source) => {
                return Err(SettingsError::Io {
                    action: "reading",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let invalid = |message: String| SettingsError::Invalid {
            path: path.to_owned(),
            message,
        };
        let saved: Self = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if saved.version != FORMAT_VERSION {
            return Err(invalid(format!(
                "format version {} (this build reads {FORMAT_VERSION})",
                saved.version
            )));
        }
        for (tenant, settings) in &saved.tenants {
            settings
                .validate()
                .map_err(|e| invalid(format!("tenants.{tenant}.{e}")))?;
        }
        Ok(saved)
    }

    /// `config` with the saved tenants in place of the file's.
    pub fn apply(&self, config: &FoldConfig) -> FoldConfig {
        let mut config = config.clone();
        for (tenant, settings) in &self.tenants {
            config.tenants.insert(tenant.clone(), settings.clone());
        }
        config
    }

    fn write(&self, path: &Path) -> Result<(), SettingsError> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| SettingsError::Io {
                action,
                path,
                source,
            }
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io("creating", dir))?;
        }
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| SettingsError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        crate::file::replace(path, &bytes, false).map_err(|(action, path, source)| {
            SettingsError::Io {
                action,
                path,
                source,
            }
        })
    }
}

/// Called with the new fold settings after each change (the aggregator's
/// `set_fold_config`).
pub type OnChange = Box<dyn Fn(Arc<FoldConfig>) + Send + Sync>;

/// The settings in effect and where changes go.
pub struct SettingsStore {
    path: PathBuf,
    /// From the configuration file, before saved settings.
    base: FoldConfig,
    state: Mutex<State>,
    on_change: OnChange,
}

struct State {
    saved: SavedSettings,
    current: Arc<FoldConfig>,
}

impl std::fmt::Debug for SettingsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Where a tenant's settings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsSource {
    /// Saved through the API.
    Api,
    /// The configuration file's `[tenants.<id>]`.
    Config,
    /// Neither: the built-in defaults.
    Default,
}

impl SettingsStore {
    /// A store on `path`, over the configuration file's settings `base`.
    ///
    /// # Errors
    /// The settings file is unreadable or invalid.
    pub fn open(
        path: impl Into<PathBuf>,
        base: FoldConfig,
        on_change: OnChange,
    ) -> Result<Self, SettingsError> {
        let path = path.into();
        let saved = SavedSettings::load(&path)?;
        let current = Arc::new(saved.apply(&base));
        Ok(Self {
            path,
            base,
            state: Mutex::new(State { saved, current }),
            on_change,
        })
    }

    /// The fold settings in effect (file settings with saved tenants applied).
    pub fn current(&self) -> Arc<FoldConfig> {
        Arc::clone(&self.lock().current)
    }

    /// A tenant's settings and where they come from.
    pub fn tenant(&self, tenant_id: &str) -> (TenantSettings, SettingsSource) {
        let state = self.lock();
        let source = if state.saved.tenants.contains_key(tenant_id) {
            SettingsSource::Api
        } else if self.base.tenants.contains_key(tenant_id) {
            SettingsSource::Config
        } else {
            SettingsSource::Default
        };
        (state.current.tenant(tenant_id).clone(), source)
    }

    /// Validates, saves and applies a tenant's settings, changed by `change` from the
    /// ones in effect. Returns the new settings.
    ///
    /// # Errors
    /// `Err(Ok(message))`: the change is invalid (a 400); `Err(Err(e))`: the file
    /// could not be written (nothing changed).
    pub fn update(
        &self,
        tenant_id: &str,
        change: impl FnOnce(&mut TenantSettings),
    ) -> Result<TenantSettings, Result<String, SettingsError>> {
        let mut state = self.lock();
        let mut settings = state.current.tenant(tenant_id).clone();
        change(&mut settings);
        settings.validate().map_err(Ok)?;
        let mut saved = state.saved.clone();
        saved.tenants.insert(tenant_id.to_owned(), settings.clone());
        saved.write(&self.path).map_err(Err)?;
        let current = Arc::new(saved.apply(&self.base));
        state.saved = saved;
        state.current = Arc::clone(&current);
        drop(state);
        (self.on_change)(current);
        Ok(settings)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
