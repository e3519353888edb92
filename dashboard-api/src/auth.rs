//! Access control: API tokens, roles and what each role may see.
//!
//! A token is `ccp_<id>_<secret>`: an 8-hex-digit id (public, names the token in lists
//! and logs) and 32 random bytes as hex. The store keeps the id, the tenant, the role,
//! the optional queue scope and the SHA-256 of the whole token, never the token itself:
//! a leaked store file does not let anyone in. (The secret has 256 bits of entropy, so a
//! fast hash is enough; a slow password hash protects low-entropy passwords, which these
//! are not.)
//!
//! Roles (README, "Tokens and roles"):
//! - `admin`: everything in its tenant, including settings updates;
//! - `supervisor`: live queues and agents, interaction detail and settings, read-only;
//!   when created with queues, only those queues, the agents serving them and the
//!   interaction visits in them;
//! - `analyst`: everything a viewer sees, plus SQL, reports, interaction detail and
//!   settings (read);
//! - `viewer`: the wallboard only (live queues and agents, the stream).
//!
//! Every token is bound to one tenant: no route takes a tenant from the request.

mod store;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use store::{NewToken, TokenError, TokenRecord, TokenStore};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Supervisor,
    Analyst,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Supervisor, Role::Analyst, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role `{s}`: expected admin, supervisor, analyst or viewer")
            })
    }
}

/// Something a route does, checked against the caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Live queues and agents, REST and stream.
    ReadLive,
    /// Interaction detail and customer history.
    ReadInteractions,
    /// Analyst SQL and reports.
    RunQueries,
    /// Tenant and queue settings, read.
    ReadSettings,
    /// Tenant and queue settings, update.
    WriteSettings,
    /// Alert rules: create, replace, delete (a queue-limited supervisor: rules of its
    /// queues only).
    ManageAlerts,
    /// Acknowledge and snooze alerts.
    AcknowledgeAlerts,
}

impl Permission {
    /// What the refusal says.
    fn describe(self) -> &'static str {
        match self {
            Permission::ReadLive => "read live queues and agents",
            Permission::ReadInteractions => "read interaction detail",
            Permission::RunQueries => "run SQL and reports (roles admin and analyst)",
            Permission::ReadSettings => "read settings",
            Permission::WriteSettings => "change settings (role admin)",
            Permission::ManageAlerts => "change alert rules (roles admin and supervisor)",
            Permission::AcknowledgeAlerts => {
                "acknowledge or snooze alerts (roles admin and supervisor)"
            }
        }
    }
}

/// The caller, as its token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub name: String,
    pub tenant_id: String,
    pub role: Role,
    /// A supervisor's queue scope; `None`: every queue of the tenant.
    pub queues: Option<BTreeSet<String>>,
}

impl Principal {
    /// Whether the role allows `permission` at all (queue scope aside).
    pub fn may(&self, permission: Permission) -> bool {
        use Permission as P;
        match self.role {
            Role::Admin => true,
            Role::Supervisor => matches!(
                permission,
                P::ReadLive
                    | P::ReadInteractions
                    | P::ReadSettings
                    | P::ManageAlerts
                    | P::AcknowledgeAlerts
            ),
            Role::Analyst => matches!(
                permission,
                P::ReadLive | P::ReadInteractions | P::RunQueries | P::ReadSettings
            ),
            Role::Viewer => matches!(permission, P::ReadLive),
        }
    }

    /// `Ok` when the role allows `permission`, else the sentence of the 403.
    pub fn require(&self, permission: Permission) -> Result<(), String> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(format!(
                "token `{}` has role {}, which may not {}",
                self.token_id,
                self.role,
                permission.describe()
            ))
        }
    }

    /// Whether the token's queue scope includes `queue_id`.
    pub fn sees_queue(&self, queue_id: &str) -> bool {
        self.queues
            .as_ref()
            .is_none_or(|queues| queues.contains(queue_id))
    }

    /// Whether an agent serving `queues` is visible: with a queue scope, only agents
    /// serving at least one queue of it.
    pub fn sees_agent<'a>(&self, mut queues: impl Iterator<Item = &'a str>) -> bool {
        match &self.queues {
            None => true,
            Some(scope) => queues.any(|queue| scope.contains(queue)),
        }
    }
}

#[cfg(test)]
mod tests;
