//! The signed-in account page (placeholder until the edge session lands).

use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response};

pub async fn page(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}
pub async fn revoke_session(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}
pub async fn change_password(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}
pub async fn mfa_generate(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}
pub async fn mfa_enable(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}
pub async fn mfa_disable(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}
pub async fn mfa_recovery_codes(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}
pub async fn logout(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}
