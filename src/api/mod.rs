//! The HTTP adapters: each decodes a request into an operation's typed
//! input (`crate::ops`), calls it, and encodes the outcome (JSON body,
//! cookies, status). No behaviour lives here.
//!
//! - The JSON API, one file per area: `account`, `email`, `session`, `mfa`, `passkeys`,
//!   plus `verify`, `jwks`, `health`. Handlers are plain async functions
//!   `(&App, &Request) -> ApiResult<Response>`; they never pick a failure
//!   status themselves (that is `error`'s job).
//! - `compat`: the routes Hasura Backend Plus clients send, decoding their
//!   own request shapes and calling the same operations.
//! - `wire`: what both share to read a request and write an answer (the
//!   Bearer caller, the client, cookies, the token response).
//!
//! Adapters never import each other (only `wire`), and never `router`.

pub mod account;
pub mod admin;
pub mod compat;
pub mod email;
pub mod health;
pub mod jwks;
pub mod mfa;
pub mod passkeys;
pub mod session;
pub mod verify;
pub mod wire;

pub use crate::ops::common::Caller;
pub use wire::{DEVICE_COOKIE, Delivery, REFRESH_COOKIE};
