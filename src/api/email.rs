//! Email change by a ticket sent to the new address: request, then confirm.
//! (Being written: both answer 404 until the store's two-slot move lands.)

use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response};

/// `POST /auth/account/email/request`.
pub async fn request_change(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}

/// `POST /auth/account/email`.
pub async fn confirm_change(_app: &App, _req: &Request) -> ApiResult<Response> {
    Err(Error::NotFound)
}
