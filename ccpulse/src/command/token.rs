//! `ccpulse token create|list|revoke`: API tokens in `<data_dir>/api/tokens.json`
//! (hashed; a running `ccpulse serve` picks changes up without a restart).

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{Context, Result};
use ccpulse_dashboard_api::auth::{NewToken, Role, TokenError, TokenStore};

use crate::cli::{TokenCreateArgs, TokenDirArgs, TokenRevokeArgs};
use crate::config::FlagOverrides;

/// Exit status of a request that cannot be carried out as given.
const CLIENT_ERROR: u8 = 2;

fn open(args: &TokenDirArgs) -> Result<Result<TokenStore, ExitCode>> {
    let config = match super::load_config(
        args.config.config.as_deref(),
        FlagOverrides {
            data_dir: args.data_dir.clone(),
            ..FlagOverrides::default()
        },
    ) {
        Ok(config) => config,
        Err(code) => return Ok(Err(code)),
    };
    let store = TokenStore::open(TokenStore::path_in(&config.data_dir))
        .context("opening the token file")?;
    Ok(Ok(store))
}

pub(crate) async fn create(args: TokenCreateArgs) -> Result<ExitCode> {
    let role: Role = match args.role.parse() {
        Ok(role) => role,
        Err(message) => {
            eprintln!("error: --role: {message}");
            return Ok(ExitCode::from(CLIENT_ERROR));
        }
    };
    let store = match open(&args.dir)? {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let queues: Option<BTreeSet<String>> = args.queues.map(|queues| {
        queues
            .into_iter()
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty())
            .collect()
    });
    let new = NewToken {
        name: if args.name.is_empty() {
            format!("{}-{role}", args.tenant)
        } else {
            args.name
        },
        tenant_id: args.tenant,
        role,
        queues,
    };
    match store.create(new) {
        Ok((record, token)) => {
            eprintln!(
                "created token {} ({}) for tenant {} with role {}{}; it is shown once, keep it safe:",
                record.id,
                record.name,
                record.tenant_id,
                record.role,
                record
                    .queues
                    .as_ref()
                    .map(|q| format!(
                        ", limited to queues {}",
                        q.iter().cloned().collect::<Vec<_>>().join(", ")
                    ))
                    .unwrap_or_default()
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Err(TokenError::Request(message)) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(CLIENT_ERROR))
        }
        Err(error) => Err(error).context("creating the token"),
    }
}

pub(crate) async fn list(args: TokenDirArgs) -> Result<ExitCode> {
    let store = match open(&args)? {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    let tokens = store.list().context("reading the token file")?;
    if tokens.is_empty() {
        eprintln!(
            "no tokens in {}; create one with `ccpulse token create --tenant T --role admin`",
            store.path().display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:8}  {:24}  {:16}  {:10}  {:20}  queues",
        "id", "name", "tenant", "role", "created"
    );
    for token in tokens {
        println!(
            "{:8}  {:24}  {:16}  {:10}  {:20}  {}",
            token.id,
            token.name,
            token.tenant_id,
            token.role.as_str(),
            token.created_at,
            token
                .queues
                .map(|q| q.into_iter().collect::<Vec<_>>().join(","))
                .unwrap_or_else(|| "all".to_owned())
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn revoke(args: TokenRevokeArgs) -> Result<ExitCode> {
    let store = match open(&args.dir)? {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    if store.revoke(&args.id).context("revoking the token")? {
        eprintln!("revoked token {}", args.id.get(..12).unwrap_or(&args.id));
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: no token with id {:?} (`ccpulse token list`)",
            args.id
        );
        Ok(ExitCode::from(CLIENT_ERROR))
    }
}
