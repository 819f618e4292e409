//! The operations: what edgeauth does, with typed inputs and outputs, one
//! file per area. Every front door (the JSON API in `api`, the HBP
//! compatibility routes in `api::compat`, and any later one) decodes its own
//! request shape into these inputs, calls the operation, and encodes the
//! outcome; the behaviour — rate limits, events, metrics outcomes, the
//! credential-version and `auth_time` rules, the second-factor budget,
//! re-sealing — lives here once.
//!
//! Operations never see HTTP types, requests, JSON or cookies: they must
//! not import the HTTP library, the request type (`http`), the adapters or
//! the router. They talk to `store` and `auth`. Among themselves they form
//! a DAG: `common` (imports none) ← `credentials` ← `login`, `mfa`, `account`, `edge`, `passkeys`,
//! `register` ← `tokens`; `common` ← `mail` ← `register`, `activate`, `account`; `email`,
//! `sessions` and `lock` use `common` only (`lock` not even that: it talks to the store alone);
//! `admin` uses `common`, `mail` and `lock`.

pub mod account;
pub mod activate;
pub mod admin;
pub mod common;
pub mod credentials;
pub mod edge;
pub mod email;
pub mod lock;
pub mod login;
pub mod mail;
pub mod mfa;
pub mod passkeys;
pub mod register;
pub mod sessions;
pub mod tokens;
