//! Password hashing: scrypt, stored as PHC strings (`$scrypt$ln=17,r=8,p=1$<salt>$<hash>`).
//!
//! The cost is configurable; `needs_rehash` lets a login with a correct password move the stored
//! hash to the current cost. These functions are deliberately slow and CPU/memory heavy: callers
//! run them on blocking threads behind a concurrency bound. No I/O here.

use scrypt::password_hash::{CustomizedPasswordHasher as _, PasswordVerifier as _};
use scrypt::phc::PasswordHash;
use scrypt::{Params, Scrypt};

use super::{KeyError, random_bytes};

/// scrypt cost parameters: N = 2^log_n, block size r, parallelism p.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScryptCost {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl ScryptCost {
    /// OWASP Password Storage Cheat Sheet: N = 2^17, r = 8, p = 1 (128 MiB, ~0.3 s per hash).
    pub const OWASP: ScryptCost = ScryptCost {
        log_n: 17,
        r: 8,
        p: 1,
    };
}

/// Hashes with a fresh 16-byte random salt. Fails only on invalid parameters or RNG failure.
pub fn hash_password(password: &str, cost: ScryptCost) -> Result<String, KeyError> {
    let params = Params::new(cost.log_n, cost.r, cost.p)
        .map_err(|e| KeyError(format!("invalid scrypt parameters {cost:?}: {e}")))?;
    let salt: [u8; 16] = random_bytes()?;
    let hash = Scrypt::new()
        .hash_password_with_params(password.as_bytes(), &salt, params)
        .map_err(|e| KeyError(format!("scrypt failed: {e}")))?;
    Ok(hash.to_string())
}

/// False on a wrong password or an unparsable/non-scrypt PHC string. The cost comes from the
/// PHC string, so hashes made under an older cost still verify; the final comparison is
/// constant time (password-hash's `Output` equality).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Scrypt::new()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// True when `phc` was made under a different cost (or is not a scrypt PHC string at all), so
/// the caller should store a fresh hash after a successful login.
pub fn needs_rehash(phc: &str, cost: ScryptCost) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    if hash.algorithm.as_str() != "scrypt" {
        return true;
    }
    match Params::try_from(&hash) {
        Ok(p) => (p.log_n(), p.r(), p.p()) != (cost.log_n, cost.r, cost.p),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// Small enough for a fast test suite; the algorithm is the same at any cost.
    const CHEAP: ScryptCost = ScryptCost {
        log_n: 10,
        r: 8,
        p: 1,
    };

    #[test]
    fn round_trip_at_log_n_10() {
        let phc = hash_password("correct horse battery staple", CHEAP).unwrap();
        assert!(phc.starts_with("$scrypt$ln=10,r=8,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("correct horse battery stapl", &phc));
        assert!(!verify_password("", &phc));
        // Random salt: the same password never gives the same string.
        assert_ne!(
            phc,
            hash_password("correct horse battery staple", CHEAP).unwrap()
        );
        let unicode = hash_password("pässwörd🔑", CHEAP).unwrap();
        assert!(verify_password("pässwörd🔑", &unicode));
    }

    #[test]
    fn verifies_a_foreign_hash() {
        // Made independently with Python's hashlib.scrypt (salt b"edgeauth-salt-16", 32-byte
        // output, unpadded standard base64): proves we read and write the common PHC layout.
        let phc = "$scrypt$ln=10,r=8,p=1$ZWRnZWF1dGgtc2FsdC0xNg$8ZI8puk00wisKp7z72Nej7v2VJgOtPwfpZARC51zukM";
        assert!(verify_password("password", phc));
        assert!(!verify_password("Password", phc));
        assert!(!needs_rehash(phc, CHEAP));
    }

    #[test]
    fn malformed_phc_never_verifies() {
        let phc = hash_password("pw", CHEAP).unwrap();
        let argon = phc.replace("$scrypt$", "$argon2id$");
        let no_hash = phc.rsplit_once('$').unwrap().0.to_string();
        for bad in ["", "garbage", "$scrypt$", argon.as_str(), no_hash.as_str()] {
            assert!(!verify_password("pw", bad), "{bad}");
        }
        // A hash-less PHC with matching params needs no rehash: it can never verify anyway.
        for bad in ["", "garbage", argon.as_str()] {
            assert!(needs_rehash(bad, CHEAP), "{bad}");
        }
    }

    #[test]
    fn needs_rehash_compares_every_parameter() {
        let phc = hash_password("pw", CHEAP).unwrap();
        assert!(!needs_rehash(&phc, CHEAP));
        for other in [
            ScryptCost { log_n: 11, ..CHEAP },
            ScryptCost { r: 4, ..CHEAP },
            ScryptCost { p: 2, ..CHEAP },
            ScryptCost::OWASP,
        ] {
            assert!(needs_rehash(&phc, other), "{other:?}");
        }
    }

    #[test]
    fn invalid_cost_is_an_error() {
        assert!(hash_password("pw", ScryptCost { r: 0, ..CHEAP }).is_err());
        assert!(hash_password("pw", ScryptCost { p: 0, ..CHEAP }).is_err());
    }
}
