use std::collections::BTreeSet;

use super::*;

fn new_token(tenant: &str, role: Role, queues: Option<&[&str]>) -> NewToken {
    NewToken {
        name: "test".to_owned(),
        tenant_id: tenant.to_owned(),
        role,
        queues: queues.map(|q| q.iter().map(|s| (*s).to_owned()).collect()),
    }
}

#[test]
fn a_created_token_verifies_and_the_file_holds_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = TokenStore::path_in(dir.path());
    let store = TokenStore::open(&path).unwrap();
    let (record, token) = store
        .create(new_token("acme", Role::Supervisor, Some(&["sales"])))
        .unwrap();
    let principal = store.verify(&token).expect("the new token is valid");
    assert_eq!(principal.tenant_id, "acme");
    assert_eq!(principal.role, Role::Supervisor);
    assert_eq!(principal.token_id, record.id);
    assert_eq!(principal.queues, Some(BTreeSet::from(["sales".to_owned()])));
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(!file.contains(&token), "the token itself is never stored");
    assert!(file.contains(&record.sha256));
}

#[test]
fn wrong_or_malformed_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::open(TokenStore::path_in(dir.path())).unwrap();
    let (_, token) = store.create(new_token("acme", Role::Admin, None)).unwrap();
    let mut wrong = token.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    assert!(store.verify(&wrong).is_none());
    for bad in [
        "",
        "ccp_",
        "Bearer x",
        "ccp_zzzzzzzz_00",
        &token[..token.len() - 1],
    ] {
        assert!(store.verify(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn a_second_store_sees_tokens_created_and_revoked_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = TokenStore::path_in(dir.path());
    let server = TokenStore::open(&path).unwrap();
    let cli = TokenStore::open(&path).unwrap();
    let (record, token) = cli.create(new_token("acme", Role::Viewer, None)).unwrap();
    assert!(server.verify(&token).is_some());
    assert!(cli.revoke(&record.id).unwrap());
    assert!(server.verify(&token).is_none(), "revocation takes effect");
    assert!(!cli.revoke(&record.id).unwrap(), "already gone");
}

#[test]
fn only_supervisors_are_limited_to_queues() {
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::open(TokenStore::path_in(dir.path())).unwrap();
    let error = store
        .create(new_token("acme", Role::Analyst, Some(&["sales"])))
        .unwrap_err();
    assert!(error.to_string().contains("only supervisor"), "{error}");
    assert!(store.create(new_token(" ", Role::Admin, None)).is_err());
    assert!(store.list().unwrap().is_empty(), "nothing was written");
}

#[test]
fn a_corrupt_token_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = TokenStore::path_in(dir.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{not json").unwrap();
    let error = TokenStore::open(&path).unwrap_err();
    assert!(error.to_string().contains("tokens.json"), "{error}");
}

#[test]
fn roles_allow_what_the_readme_says() {
    use Permission as P;
    let principal = |role| Principal {
        token_id: "t".to_owned(),
        name: "t".to_owned(),
        tenant_id: "acme".to_owned(),
        role,
        queues: None,
    };
    let table = [
        (Role::Admin, [true, true, true, true, true]),
        (Role::Supervisor, [true, true, false, true, false]),
        (Role::Analyst, [true, true, true, true, false]),
        (Role::Viewer, [true, false, false, false, false]),
    ];
    let permissions = [
        P::ReadLive,
        P::ReadInteractions,
        P::RunQueries,
        P::ReadSettings,
        P::WriteSettings,
    ];
    for (role, allowed) in table {
        for (permission, allowed) in permissions.into_iter().zip(allowed) {
            assert_eq!(
                principal(role).may(permission),
                allowed,
                "{role} {permission:?}"
            );
            assert_eq!(principal(role).require(permission).is_ok(), allowed);
        }
    }
}

#[test]
fn a_queue_scope_limits_queues_and_agents() {
    let principal = Principal {
        token_id: "t".to_owned(),
        name: "t".to_owned(),
        tenant_id: "acme".to_owned(),
        role: Role::Supervisor,
        queues: Some(BTreeSet::from(["sales".to_owned()])),
    };
    assert!(principal.sees_queue("sales"));
    assert!(!principal.sees_queue("support"));
    assert!(principal.sees_agent(["support", "sales"].into_iter()));
    assert!(!principal.sees_agent(["support"].into_iter()));
    assert!(!principal.sees_agent(std::iter::empty()));
}

#[test]
fn roles_parse_from_their_names() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
    }
    assert!(
        "root"
            .parse::<Role>()
            .unwrap_err()
            .contains("expected admin")
    );
}
