//! The API of ccpulse: REST and WebSocket over the live observations and the query
//! layer, access control, and the wallboard page.

pub mod auth;
