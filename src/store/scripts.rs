//! The Lua scripts of `lua/`, compiled in and hashed once per [`Store`](super::Store).
//!
//! `redis::Script` runs EVALSHA and falls back to loading the script on NOSCRIPT (a restarted or
//! failed-over Redis), so no startup loading step is needed. Each file documents its KEYS, ARGV and
//! return value.

use redis::Script;

pub(crate) struct Scripts {
    pub account_create: Script,
    pub account_confirm: Script,
    pub account_remove: Script,
    pub email_claim: Script,
    pub email_release: Script,
    pub email_release_account: Script,
    pub email_ticket_create: Script,
    pub email_change_begin: Script,
    pub email_change_claim: Script,
    pub email_change_commit: Script,
    pub email_change_abort: Script,
    pub password_replace: Script,
    pub ticket_create: Script,
    pub ticket_pointer: Script,
    pub ticket_activate: Script,
    pub ticket_reset: Script,
    pub session_create: Script,
    pub session_rotate: Script,
    pub session_revoke: Script,
    pub sessions_revoke_all: Script,
    pub event_emit: Script,
    pub rate_hit: Script,
    pub password_change: Script,
    pub sessions_list: Script,
    pub mfa_set_pending: Script,
    pub mfa_enable: Script,
    pub mfa_disable: Script,
    pub mfa_recovery_replace: Script,
    pub mfa_ticket_create: Script,
    pub mfa_login_totp: Script,
    pub mfa_login_recovery: Script,
}

macro_rules! lua {
    ($name:literal) => {
        Script::new(include_str!(concat!("../../lua/", $name, ".lua")))
    };
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            account_create: lua!("account_create"),
            account_confirm: lua!("account_confirm"),
            account_remove: lua!("account_remove"),
            email_claim: lua!("email_claim"),
            email_release: lua!("email_release"),
            email_release_account: lua!("email_release_account"),
            email_ticket_create: lua!("email_ticket_create"),
            email_change_begin: lua!("email_change_begin"),
            email_change_claim: lua!("email_change_claim"),
            email_change_commit: lua!("email_change_commit"),
            email_change_abort: lua!("email_change_abort"),
            password_replace: lua!("password_replace"),
            ticket_create: lua!("ticket_create"),
            ticket_pointer: lua!("ticket_pointer"),
            ticket_activate: lua!("ticket_activate"),
            ticket_reset: lua!("ticket_reset"),
            session_create: lua!("session_create"),
            session_rotate: lua!("session_rotate"),
            session_revoke: lua!("session_revoke"),
            sessions_revoke_all: lua!("sessions_revoke_all"),
            event_emit: lua!("event_emit"),
            rate_hit: lua!("rate_hit"),
            password_change: lua!("password_change"),
            sessions_list: lua!("sessions_list"),
            mfa_set_pending: lua!("mfa_set_pending"),
            mfa_enable: lua!("mfa_enable"),
            mfa_disable: lua!("mfa_disable"),
            mfa_recovery_replace: lua!("mfa_recovery_replace"),
            mfa_ticket_create: lua!("mfa_ticket_create"),
            mfa_login_totp: lua!("mfa_login_totp"),
            mfa_login_recovery: lua!("mfa_login_recovery"),
        }
    }
}
