//! Every text the portal shows, by key: the built-in English defaults
//! ([`DEFAULTS`]), overridable without a rebuild by a JSON object of
//! key → text (`EDGEAUTH_PORTAL_STRINGS_FILE`), read once when the `App` is
//! built. An unknown key, or a value that is not a string, is refused then.

use std::collections::HashMap;

/// Key → built-in English text. `{seconds}` in `error.rate_limited` is
/// replaced by the wait.
#[rustfmt::skip]
pub const DEFAULTS: &[(&str, &str)] = &[
    ("lang", "en"),
    ("site.name", "Account"),
    ("field.email", "Email"),
    ("field.password", "Password"),
    ("field.current_password", "Current password"),
    ("field.new_password", "New password"),
    ("field.code", "Authentication code"),
    ("field.recovery_code", "Recovery code"),
    ("login.heading", "Sign in"),
    ("login.submit", "Sign in"),
    ("login.register_link", "Create an account"),
    ("login.forgot_link", "Forgot your password?"),
    ("login.activation_link", "Send a new activation link"),
    ("login.or", "or"),
    ("login.passkey", "Sign in with a passkey"),
    ("mfa.heading", "Two-factor authentication"),
    ("mfa.intro", "Enter the 6-digit code from your authenticator app."),
    ("mfa.submit", "Verify"),
    ("mfa.recovery_intro", "No access to your authenticator app? Use one of your recovery codes instead."),
    ("mfa.recovery_submit", "Use a recovery code"),
    ("register.heading", "Create an account"),
    ("register.submit", "Create account"),
    ("register.signin_link", "Already have an account? Sign in"),
    ("register.done_heading", "Check your email"),
    ("register.done_text", "If this address can be registered, we have sent it a link to activate the account. Follow the link to finish."),
    ("activate.heading", "Activate your account"),
    ("activate.text", "Press the button to activate your account."),
    ("activate.submit", "Activate"),
    ("activate.done_heading", "Account activated"),
    ("activate.done_text", "Your account is active. You can sign in now."),
    ("activate_request.heading", "Send a new activation link"),
    ("activate_request.text", "Enter the address you registered with and we will send it a new activation link."),
    ("activate_request.submit", "Send link"),
    ("activate_request.done", "If an account with this address is waiting for activation, we have sent it a new link."),
    ("forgot.heading", "Reset your password"),
    ("forgot.text", "Enter your address and we will send it a link to choose a new password."),
    ("forgot.submit", "Send reset link"),
    ("forgot.done", "If an account with this address exists, we have sent it a link to reset the password."),
    ("reset.heading", "Choose a new password"),
    ("reset.submit", "Set password"),
    ("reset.done", "Your password has been changed. Sign in with your new password."),
    ("link.sign_in", "Sign in"),
    ("link.back", "Back to sign in"),
    ("account.heading", "Your account"),
    ("account.signed_in_as", "Signed in as"),
    ("sessions.heading", "Sessions"),
    ("sessions.device", "Device"),
    ("sessions.address", "Address"),
    ("sessions.last_used", "Last used"),
    ("sessions.unknown_device", "Unknown device"),
    ("sessions.this_device", "This device"),
    ("sessions.revoke", "Revoke"),
    ("sessions.revoked", "The session has been signed out."),
    ("password.heading", "Password"),
    ("password.submit", "Change password"),
    ("password.changed", "Your password has been changed. Your other sessions have been signed out."),
    ("mfa_setup.heading", "Two-factor authentication"),
    ("mfa_setup.off", "Two-factor authentication is off. Turn it on to ask for a code from your authenticator app at every sign-in."),
    ("mfa_setup.start", "Set up two-factor authentication"),
    ("mfa_setup.scan", "Scan this QR code with your authenticator app, or type the secret into it, then enter the code it shows."),
    ("mfa_setup.secret", "Secret"),
    ("mfa_setup.enable", "Turn on"),
    ("mfa_setup.on", "Two-factor authentication is on"),
    ("mfa_setup.codes", "Your recovery codes. Keep them somewhere safe: each works once, in place of a code, if you lose your authenticator app."),
    ("mfa_setup.new_codes", "New recovery codes"),
    ("mfa_setup.new_codes_text", "Enter a code from your authenticator app to replace your recovery codes."),
    ("mfa_setup.disable", "Turn off"),
    ("mfa_setup.disable_text", "Enter a code from your authenticator app to turn two-factor authentication off."),
    ("mfa_setup.enabled", "Two-factor authentication is on. Keep the recovery codes below: they are shown only this once."),
    ("mfa_setup.disabled", "Two-factor authentication is off."),
    ("passkeys.heading", "Passkeys"),
    ("passkeys.intro", "A passkey signs you in with your fingerprint, face or screen lock instead of a password and code."),
    ("passkeys.none", "You have no passkeys yet."),
    ("passkeys.created", "Added"),
    ("passkeys.last_used", "Last used"),
    ("passkeys.never_used", "Not used yet"),
    ("passkeys.synced", "Synced"),
    ("passkeys.remove", "Remove"),
    ("passkeys.name", "Passkey name"),
    ("passkeys.add", "Add a passkey"),
    ("passkeys.unsupported", "To add a passkey, use a browser that supports passkeys, with JavaScript on."),
    ("passkeys.added", "Passkey added."),
    ("passkeys.removed", "Passkey removed."),
    ("logout.submit", "Sign out"),
    ("logout.done", "You are signed out."),
    ("error.heading", "Something went wrong"),
    ("error.passkey", "That passkey could not sign you in."),
    ("error.passkey_add", "That passkey could not be added. Try again."),
    ("error.passkey_gone", "That passkey no longer exists."),
    ("error.passkey_limit", "You have as many passkeys as you may. Remove one first."),
    ("error.credentials", "The email or password is wrong."),
    ("error.inactive", "This account is not activated yet. Follow the link in the activation mail, or ask for a new one."),
    ("error.locked", "This account is locked. Ask the administrator of this site to unlock it."),
    ("error.ticket", "This link is invalid, expired or already used."),
    ("error.mfa_ticket", "This sign-in has expired. Sign in again."),
    ("error.code", "The code is wrong."),
    ("error.code_replayed", "This code was already used. Wait for the next one."),
    ("error.email", "Enter a valid email address."),
    ("error.password", "The password is too short or too long."),
    ("error.form", "The form was incomplete. Please fill it in again."),
    ("error.csrf", "This form has expired or did not come from this site. Go back, reload the page and try again."),
    ("error.reauth", "For this change, sign out and sign in again first."),
    ("error.mfa_already", "Two-factor authentication is already on."),
    ("error.mfa_not_enabled", "Two-factor authentication is not on."),
    ("error.mfa_not_generated", "The setup has expired. Start it again."),
    ("error.not_found", "This page does not exist."),
    ("error.session_gone", "That session no longer exists."),
    ("error.rate_limited", "Too many attempts. Try again in {seconds} seconds."),
    ("error.unavailable", "The service is busy. Try again shortly."),
    ("error.internal", "Something went wrong on our side. Try again later."),
    ("error.method", "This page does not take that request."),
    ("error.too_large", "The form is too large."),
];

/// The page texts in effect: the defaults with the operator's overrides.
#[derive(Debug, Clone)]
pub struct Strings {
    texts: HashMap<&'static str, String>,
}

impl Default for Strings {
    fn default() -> Self {
        Strings {
            texts: DEFAULTS
                .iter()
                .map(|(k, v)| (*k, (*v).to_owned()))
                .collect(),
        }
    }
}

impl Strings {
    /// The defaults overridden by `json` (the strings file's contents): an
    /// object of known keys to strings; the error names the offending key.
    pub fn with_overrides(json: &str) -> Result<Strings, String> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| format!("not a JSON object of strings: {e}"))?;
        let mut strings = Strings::default();
        for (key, value) in object {
            let Some((known, _)) = DEFAULTS.iter().find(|(k, _)| *k == key) else {
                return Err(format!("unknown key {key:?}"));
            };
            let serde_json::Value::String(text) = value else {
                return Err(format!("key {key:?}: the value must be a string"));
            };
            strings.texts.insert(known, text);
        }
        Ok(strings)
    }

    /// The text of `key` (every key the templates use is in [`DEFAULTS`];
    /// an unknown one shows as itself).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts.get(key).map_or(key, String::as_str)
    }

    /// Like [`Strings::get`], for a key that need not outlive the call
    /// (an unknown key shows as nothing).
    pub fn get_static(&self, key: &str) -> &str {
        self.texts.get(key).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn overrides_replace_known_keys_and_refuse_others() {
        let s = Strings::with_overrides(r#"{"login.heading": "Anmelden"}"#).unwrap();
        assert_eq!(s.get("login.heading"), "Anmelden");
        assert_eq!(s.get("login.submit"), "Sign in");
        let e = Strings::with_overrides(r#"{"login.headin": "x"}"#).unwrap_err();
        assert!(e.contains("login.headin"), "{e}");
        assert!(Strings::with_overrides(r#"{"login.heading": 1}"#).is_err());
        assert!(Strings::with_overrides("[]").is_err());
    }

    #[test]
    fn keys_are_unique() {
        for (i, (k, _)) in DEFAULTS.iter().enumerate() {
            assert!(DEFAULTS[i + 1..].iter().all(|(o, _)| o != k), "{k}");
        }
    }
}
