//! The Spin load benchmark's reference: echoes the request body, written the SDK's simple way.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(req.into_body())
        .build()
}
