//! The Spin load benchmark's reference: echoes the request body, written the SDK's simple way.
// `#[http_component]` exports the handler to the Spin host with generated unsafe code.
#![allow(unsafe_code)]

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    // Feature `read-variable` (benchmark only): read the `settings` variable first, as the
    // policy does on every request, to measure what the read alone costs on this SDK path.
    if cfg!(feature = "read-variable") {
        let _ = spin_sdk::variables::get("settings");
    }
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(req.into_body())
        .build()
}
