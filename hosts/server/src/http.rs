//! The routes: `POST /mutate`, `POST /validate` (an AdmissionReview in, its response out:
//! the core's one call), `GET /healthz`, `GET /readyz`, `GET /metrics`. Every answer is JSON
//! (the metrics excepted); a body the server cannot take is refused with the status that
//! says why (400, 405, 408, 413), never a 500.

use crate::metrics::{Outcome, Path};
use crate::reload::Live;
use crate::MAX_BODY;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use resource_limits::review::{admission_review, AdmissionReviewResponse, NotAReview};
use resource_limits::Webhook;
use serde_json::json;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Answer = Response<Full<Bytes>>;

const JSON: &str = "application/json";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut answer = Response::new(Full::new(body.into()));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}

fn error(status: StatusCode, message: &str) -> Answer {
    respond(status, JSON, json!({ "error": message }).to_string())
}

fn wrong_method(allow: &'static str) -> Answer {
    let mut answer = error(StatusCode::METHOD_NOT_ALLOWED, &format!("use {allow}"));
    answer
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    answer
}

/// Answers one HTTP request.
pub async fn handle(
    live: Arc<Live>,
    req: Request<Incoming>,
    read_timeout: Duration,
) -> Result<Answer, Infallible> {
    let is_get = matches!(*req.method(), Method::GET | Method::HEAD);
    let is_post = *req.method() == Method::POST;
    let answer = match req.uri().path() {
        "/mutate" if is_post => review(&live, req, Path::Mutate, read_timeout).await,
        "/validate" if is_post => review(&live, req, Path::Validate, read_timeout).await,
        "/mutate" | "/validate" => wrong_method("POST"),
        "/healthz" if is_get => respond(StatusCode::OK, JSON, r#"{"status":"ok"}"#),
        "/readyz" if is_get => ready(&live),
        "/metrics" if is_get => respond(StatusCode::OK, OPENMETRICS, live.metrics.encode()),
        "/healthz" | "/readyz" | "/metrics" => wrong_method("GET"),
        other => error(
            StatusCode::NOT_FOUND,
            &format!(
                "no such endpoint: {other} (POST /mutate, POST /validate, GET /healthz, GET /readyz, GET /metrics)"
            ),
        ),
    };
    Ok(answer)
}

/// 200 while serving, with what is wrong with the files (the last good ones are served, so
/// the replica stays in the Service); 503 once a shutdown has begun.
fn ready(live: &Live) -> Answer {
    let problems = live.problems();
    if live.draining() {
        return respond(
            StatusCode::SERVICE_UNAVAILABLE,
            JSON,
            json!({ "status": "shutting down", "problems": problems }).to_string(),
        );
    }
    let status = if problems.is_empty() {
        "ready"
    } else {
        "ready, with problems"
    };
    respond(
        StatusCode::OK,
        JSON,
        json!({ "status": status, "problems": problems }).to_string(),
    )
}

/// Reads the body (at most [`MAX_BODY`], within the read timeout) and answers the review.
async fn review(live: &Live, req: Request<Incoming>, path: Path, read_timeout: Duration) -> Answer {
    let started = Instant::now();
    let (answer, outcome) = match read_body(req, read_timeout).await {
        Ok(body) => judge(live, &body, path),
        Err(refusal) => refusal,
    };
    live.metrics
        .reviewed(path, outcome, started.elapsed().as_secs_f64());
    answer
}

/// Beyond this much, an oversized body is not read to its end before the 413: the
/// connection is closed instead (a client still sending may then see a reset, not the 413).
const DRAIN_LIMIT: u64 = 4 * MAX_BODY as u64;

/// Reads the body: at most [`MAX_BODY`] kept, within the read timeout. An oversized body is
/// read on (and dropped) up to [`DRAIN_LIMIT`] before the 413, so that a client that sends it
/// whole before reading (as HTTP/1.1 clients do) gets the answer rather than a reset.
async fn read_body(
    req: Request<Incoming>,
    read_timeout: Duration,
) -> Result<Bytes, (Answer, Outcome)> {
    let too_large = || {
        (
            error(StatusCode::PAYLOAD_TOO_LARGE, "the body is over 3 MiB"),
            Outcome::TooLarge,
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(too_large());
    }
    let read = async {
        let mut body = req.into_body();
        let mut kept = Vec::new();
        let mut seen = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            seen += data.len() as u64;
            if seen <= MAX_BODY as u64 {
                kept.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
        Ok::<_, hyper::Error>((kept, seen))
    };
    match tokio::time::timeout(read_timeout, read).await {
        Ok(Ok((_, seen))) if seen > MAX_BODY as u64 => Err(too_large()),
        Ok(Ok((kept, _))) => Ok(Bytes::from(kept)),
        Ok(Err(e)) => Err((
            error(
                StatusCode::BAD_REQUEST,
                &format!("the body could not be read: {e}"),
            ),
            Outcome::BadRequest,
        )),
        Err(_) => Err((
            error(
                StatusCode::REQUEST_TIMEOUT,
                &format!("the body did not arrive within {read_timeout:?}"),
            ),
            Outcome::Timeout,
        )),
    }
}

/// The core's one call, on the settings of the moment. A panic in it (none is known: the
/// fuzzers look for them) would end only this request: it is caught and the review refused
/// with a message that says so, as the contract promises (never an internal error).
fn judge(live: &Live, body: &[u8], path: Path) -> (Answer, Outcome) {
    let webhook = match path {
        Path::Mutate => Webhook::Mutating,
        Path::Validate => Webhook::Validating,
    };
    let settings = live.settings();
    let judged = std::panic::catch_unwind(AssertUnwindSafe(|| {
        admission_review(&settings, body, webhook)
    }));
    match judged {
        Ok(Ok(review)) => {
            let outcome = outcome_of(&review);
            if outcome == Outcome::Rejected {
                log_refusal(&review, webhook);
            } else {
                tracing::debug!(webhook = webhook.name(), uid = %review.response.uid, "admitted");
            }
            (respond(StatusCode::OK, JSON, review.to_json()), outcome)
        }
        Ok(Err(NotAReview(message))) => {
            tracing::info!(webhook = webhook.name(), error = %message, "not an AdmissionReview");
            (
                error(StatusCode::BAD_REQUEST, &message),
                Outcome::BadRequest,
            )
        }
        Err(_) => {
            tracing::error!(
                webhook = webhook.name(),
                "the review could not be judged (a panic); refused"
            );
            (crashed(body), Outcome::Rejected)
        }
    }
}

fn outcome_of(review: &AdmissionReviewResponse) -> Outcome {
    match (&review.response.allowed, &review.response.patch) {
        (true, Some(_)) => Outcome::Mutated,
        (true, None) => Outcome::Accepted,
        (false, _) => Outcome::Rejected,
    }
}

/// One line a refusal, at info: who asked and why it was refused.
fn log_refusal(review: &AdmissionReviewResponse, webhook: Webhook) {
    let (code, message) = review
        .response
        .status
        .as_ref()
        .map_or((0, ""), |s| (s.code, s.message.as_str()));
    tracing::info!(
        webhook = webhook.name(),
        uid = %review.response.uid,
        code,
        reason = message,
        "refused"
    );
}

/// The refusal of a review the core could not judge: its uid read back, so the API server
/// takes the answer as this request's.
fn crashed(body: &[u8]) -> Answer {
    let uid = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["request"]["uid"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let answer = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": uid,
            "allowed": false,
            "status": {
                "code": 500,
                "message": "resource-limits could not judge this request (an internal error, logged by the webhook); please report it"
            }
        }
    });
    respond(StatusCode::OK, JSON, answer.to_string())
}
