//! Account flows the tests share, one request each: the reset request and
//! the reset itself.

use serde_json::json;

use super::{Reply, TestServer};

impl TestServer {
    /// POST /auth/account/forgot/request for `email`.
    pub async fn forgot_request(&self, email: &str) -> Reply {
        self.post("/auth/account/forgot/request", json!({ "email": email }))
            .await
    }

    /// POST /auth/account/forgot: a password reset with `ticket`.
    pub async fn reset_password(&self, ticket: &str, new_password: &str) -> Reply {
        self.post(
            "/auth/account/forgot",
            json!({ "ticket": ticket, "new_password": new_password }),
        )
        .await
    }
}
