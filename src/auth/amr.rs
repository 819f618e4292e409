//! How a session's user authenticated: the RFC 8176 `amr` values (`pwd`,
//! `otp`, `mfa`, `hwk`, `swk`) as a small set, carried by access tokens (the
//! `amr` claim), kept by every session (so refreshes and the edge session
//! cookie keep it), and sent to gateways in `X-Auth-Amr`.
//!
//! Stored in Redis as one small number (the set's bits). No I/O.

/// A set of authentication methods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amr(u8);

const PWD: u8 = 1;
const OTP: u8 = 2;
const MFA: u8 = 4;
const HWK: u8 = 8;
const SWK: u8 = 16;

/// Every method in the order the claim and the header list them.
const NAMES: [(u8, &str); 5] = [
    (PWD, "pwd"),
    (OTP, "otp"),
    (HWK, "hwk"),
    (SWK, "swk"),
    (MFA, "mfa"),
];

impl Amr {
    /// A password sign-in.
    pub const fn password() -> Amr {
        Amr(PWD)
    }

    /// Plus a one-time code (TOTP or recovery code): multi-factor.
    pub const fn with_otp(self) -> Amr {
        Amr(self.0 | OTP | MFA)
    }

    /// A passkey sign-in: a proof-of-possession key with user verification,
    /// multi-factor on its own (`hwk` for a hardware-bound key, else `swk`).
    pub const fn passkey(hardware_bound: bool) -> Amr {
        Amr(MFA | if hardware_bound { HWK } else { SWK })
    }

    /// Whether the session passed a second factor.
    pub const fn has_mfa(self) -> bool {
        self.0 & MFA != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The claim's values.
    pub fn as_claim(self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| *name)
            .collect()
    }

    /// `X-Auth-Amr`: the values, comma-separated.
    pub fn header_value(self) -> String {
        self.as_claim().join(",")
    }

    /// From the values of a claim (unknown values are ignored).
    pub fn from_claim<S: AsRef<str>>(values: &[S]) -> Amr {
        Amr(values
            .iter()
            .filter_map(|v| NAMES.iter().find(|(_, name)| *name == v.as_ref()))
            .fold(0, |bits, (bit, _)| bits | bit))
    }

    /// The stored form.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// From the stored form; `None` when it holds an unknown bit.
    pub const fn from_bits(bits: u8) -> Option<Amr> {
        if bits & !(PWD | OTP | MFA | HWK | SWK) == 0 {
            Some(Amr(bits))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn values_and_round_trips() {
        assert_eq!(Amr::password().as_claim(), ["pwd"]);
        assert!(!Amr::password().has_mfa());
        let mfa = Amr::password().with_otp();
        assert_eq!(mfa.header_value(), "pwd,otp,mfa");
        assert!(mfa.has_mfa());
        assert_eq!(Amr::passkey(true).header_value(), "hwk,mfa");
        assert_eq!(Amr::passkey(false).header_value(), "swk,mfa");
        assert_eq!(Amr::from_claim(&["otp", "pwd", "mfa", "x"]), mfa);
        assert_eq!(Amr::from_bits(mfa.bits()), Some(mfa));
        assert_eq!(Amr::from_bits(64), None);
        assert_eq!(Amr::default().header_value(), "");
    }
}
