//! Reading a JWT the server issued, without verifying it (the server did):
//! its claims, its subject (the account id) and its session id.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The claims (payload) of a JWT.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
        .expect("JSON payload")
}

/// The account id (`sub`) of a JWT.
pub fn sub(jwt: &str) -> String {
    claims(jwt)["sub"].as_str().expect("sub").to_owned()
}

/// The session id (`sid`) of a JWT.
pub fn sid(jwt: &str) -> String {
    claims(jwt)["sid"].as_str().expect("sid").to_owned()
}
