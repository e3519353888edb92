//! The wallboard page: `GET /` and `GET /assets/{file}`, compiled into the binary (no
//! front-end server, no build step). No token is needed to load the page; it asks for
//! one and sends it with every API call.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const INDEX: &str = include_str!("../../assets/index.html");
const SCRIPT: &str = include_str!("../../assets/wallboard.js");
const STYLE: &str = include_str!("../../assets/wallboard.css");

fn asset_response(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The page changes with the binary: revalidate, but never serve a stale build.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub(super) async fn index() -> Response {
    asset_response(INDEX, "text/html; charset=utf-8")
}

pub(super) async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    match file.as_str() {
        "wallboard.js" => Ok(asset_response(SCRIPT, "text/javascript; charset=utf-8")),
        "wallboard.css" => Ok(asset_response(STYLE, "text/css; charset=utf-8")),
        _ => Err(ApiError::not_found(format!("no asset `{file}`"))),
    }
}
