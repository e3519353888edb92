//! Request extractors: the caller's token ([`Caller`]) and JSON bodies whose errors are
//! 400s with a message ([`JsonBody`]).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri};
use serde::de::DeserializeOwned;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::ApiState;

/// The authenticated caller of a REST route (`Authorization: Bearer <token>`).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// The token of a request: the `Authorization: Bearer` header, else (for the
/// WebSocket, whose browser API cannot set headers) the `access_token` query parameter
/// when `allow_query`.
pub fn bearer_token(headers: &HeaderMap, uri: &Uri, allow_query: bool) -> Result<String, ApiError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        return Ok(token.trim().to_owned());
    }
    if allow_query
        && let Some(query) = uri.query()
        && let Some(token) = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find_map(|(key, value)| (key == "access_token").then_some(value))
    {
        return Ok(token.to_owned());
    }
    Err(ApiError::unauthorized(if allow_query {
        "no token: send `Authorization: Bearer <token>` or `?access_token=<token>` (create one with `ccpulse token create`)"
    } else {
        "no token: send `Authorization: Bearer <token>` (create one with `ccpulse token create`)"
    }))
}

/// Checks a token against the store.
pub fn authenticate(state: &ApiState, token: &str) -> Result<Principal, ApiError> {
    state.tokens.verify(token).ok_or_else(|| {
        ApiError::unauthorized("the token is not valid (unknown, revoked or mistyped)")
    })
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers, &parts.uri, false)?;
        authenticate(state, &token).map(Caller)
    }
}

/// A JSON body; malformed JSON or wrong fields are a 400 naming the problem.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}
