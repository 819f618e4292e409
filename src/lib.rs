//! edgeauth: a small, stateless authentication server for the edge.
//!
//! Accounts, passwords, Ed25519 JWTs and rotating refresh tokens, with every
//! bit of state in Redis so identical replicas scale out behind a load
//! balancer. See `ARCHITECTURE.md` for the code map; in short:
//!
//! ```text
//! main ─ cli → config → App::build → server::serve
//! server → router → api::* (adapters) → ops::* → store (Redis, Lua) / auth (pure crypto)
//!                   └─ Result<Response, Error> → error (the one mapping)
//! ```

pub mod admin_cli;
pub mod api;
pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cors;
pub mod dev;
pub mod error;
pub mod hasher;
pub mod http;
pub mod metrics;
pub mod ops;
pub mod portal;
pub mod rekey;
pub mod return_url;
pub mod router;
pub mod server;
pub mod store;
