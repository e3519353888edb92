//! [`TokenStore`]: the token file (`<data_dir>/api/tokens.json`), hashed tokens only.
//!
//! The CLI (`ccpulse token create|list|revoke`) writes it; the server reads it and picks
//! up changes without a restart: each check compares the file's modification time with
//! the one loaded and reloads when it differs. Writers hold an exclusive lock on
//! `tokens.json.lock` for the read-modify-write and replace the file by an atomic rename,
//! so two concurrent `token create` never lose one another's token and a reader never
//! sees half a file.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Principal, Role};

const PREFIX: &str = "ccp_";
const FORMAT_VERSION: u32 = 1;

/// One stored token: everything but the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// Public part of the token (8 hex digits).
    pub id: String,
    /// A label chosen at creation (`wallboard-floor-2`).
    pub name: String,
    pub tenant_id: String,
    pub role: Role,
    /// A supervisor's queue scope (`None`: every queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<BTreeSet<String>>,
    /// SHA-256 of the whole token, hex.
    pub sha256: String,
    /// RFC 3339.
    pub created_at: String,
}

impl TokenRecord {
    fn principal(&self) -> Principal {
        Principal {
            token_id: self.id.clone(),
            name: self.name.clone(),
            tenant_id: self.tenant_id.clone(),
            role: self.role,
            queues: self.queues.clone(),
        }
    }
}

/// What `create` needs.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub tenant_id: String,
    pub role: Role,
    pub queues: Option<BTreeSet<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    version: u32,
    tokens: Vec<TokenRecord>,
}

/// Why the token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the token file `{path}` is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{0}")]
    Request(String),
}

/// The token file and what was last loaded from it.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

#[derive(Debug, Default)]
struct Loaded {
    /// Modification time of the file as loaded (`None`: no file).
    modified: Option<SystemTime>,
    tokens: Vec<TokenRecord>,
}

impl TokenStore {
    /// The token file under a data directory.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("api").join("tokens.json")
    }

    /// A store on `path` (the file need not exist yet: then no token is valid).
    ///
    /// # Errors
    /// The file exists but cannot be read or is not a token file.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, TokenError> {
        let store = Self {
            path: path.into(),
            loaded: Mutex::default(),
        };
        store.refresh()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The caller of `token`, or `None` when it is not a valid token. A token file that
    /// became unreadable keeps the tokens last loaded (and logs why).
    pub fn verify(&self, token: &str) -> Option<Principal> {
        let id = parse(token)?;
        if let Err(error) = self.refresh() {
            tracing::warn!(%error, "token file unreadable; using the tokens last loaded");
        }
        let hash = sha256_hex(token);
        let loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        loaded
            .tokens
            .iter()
            .find(|record| record.id == id && constant_time_eq(&record.sha256, &hash))
            .map(TokenRecord::principal)
    }

    /// Every token, by creation.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        Ok(read_file(&self.path)?.map_or_else(Vec::new, |file| file.tokens))
    }

    /// Creates a token; returns its record and the token (shown once, never stored).
    ///
    /// # Errors
    /// Invalid request (empty tenant, queues for a role other than supervisor) or the
    /// file cannot be written.
    pub fn create(&self, new: NewToken) -> Result<(TokenRecord, String), TokenError> {
        if new.tenant_id.trim().is_empty() {
            return Err(TokenError::Request("the tenant id is empty".to_owned()));
        }
        if new.queues.is_some() && new.role != Role::Supervisor {
            return Err(TokenError::Request(format!(
                "only supervisor tokens are limited to queues (this one has role {})",
                new.role
            )));
        }
        if new.queues.as_ref().is_some_and(BTreeSet::is_empty) {
            return Err(TokenError::Request(
                "a queue-limited token needs at least one queue".to_owned(),
            ));
        }
        let (record, token) = self.update(|tokens| {
            let mut id = random_hex(4)?;
            while tokens.iter().any(|t| t.id == id) {
                id = random_hex(4)?;
            }
            let token = format!("{PREFIX}{id}_{}", random_hex(32)?);
            let record = TokenRecord {
                id,
                name: new.name.clone(),
                tenant_id: new.tenant_id.clone(),
                role: new.role,
                queues: new.queues.clone(),
                sha256: sha256_hex(&token),
                created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            };
            tokens.push(record.clone());
            Ok((record, token))
        })?;
        Ok((record, token))
    }

    /// Removes the token with id `id` (or whole token); `false` when there is none.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn revoke(&self, id: &str) -> Result<bool, TokenError> {
        let id = parse(id).unwrap_or(id).to_owned();
        self.update(|tokens| {
            let before = tokens.len();
            tokens.retain(|t| t.id != id);
            Ok(tokens.len() != before)
        })
    }

    /// Reloads the file when its modification time changed.
    fn refresh(&self) -> Result<(), TokenError> {
        let modified = match fs::metadata(&self.path) {
            Ok(meta) => meta.modified().ok(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(TokenError::Io {
                    action: "reading",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        {
            let loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
            if loaded.modified == modified && modified.is_some() {
                return Ok(());
            }
        }
        let tokens = read_file(&self.path)?.map_or_else(Vec::new, |file| file.tokens);
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        *loaded = Loaded { modified, tokens };
        Ok(())
    }

    /// Read-modify-write under the lock file, replaced by rename.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut Vec<TokenRecord>) -> Result<T, TokenError>,
    ) -> Result<T, TokenError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let io = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| TokenError::Io {
                action,
                path,
                source,
            }
        };
        fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let lock_path = self.path.with_extension("json.lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("opening", &lock_path))?;
        lock.lock().map_err(io("locking", &lock_path))?;
        let mut tokens = read_file(&self.path)?.map_or_else(Vec::new, |file| file.tokens);
        let result = change(&mut tokens)?;
        let file = TokenFile {
            version: FORMAT_VERSION,
            tokens,
        };
        let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| TokenError::Invalid {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        crate::file::replace(&self.path, &bytes, true).map_err(|(action, path, source)| {
            TokenError::Io {
                action,
                path,
                source,
            }
        })?;
        drop(lock);
        Ok(result)
    }
}

fn read_file(path: &Path) -> Result<Option<TokenFile>, TokenError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(TokenError::Io {
                action: "reading",
                path: path.to_owned(),
                source,
            });
        }
    };
    let file: TokenFile = serde_json::from_slice(&bytes).map_err(|e| TokenError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if file.version != FORMAT_VERSION {
        return Err(TokenError::Invalid {
            path: path.to_owned(),
            message: format!(
                "format version {} (this build reads {FORMAT_VERSION})",
                file.version
            ),
        });
    }
    Ok(Some(file))
}

/// The id of a well-formed token (`ccp_<8 hex>_<64 hex>`).
fn parse(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 8) && hex(secret, 64)).then_some(id)
}

fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, TokenError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| TokenError::Request(format!("no randomness: {e}")))?;
    Ok(hex::encode(buf))
}

/// Compares two equal-length hex digests without an early exit.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
