//! The Spin host: an HTTP component (spin-sdk 5.2, `wasi:http/incoming-handler@0.2.0`) for
//! SpinKube. It routes, reads the body and the `settings` variable, calls the core and writes
//! the answer; the AdmissionReview logic lives in the core. `POST /mutate` serves the
//! MutatingWebhookConfiguration (defaults added by a patch), `POST /validate` the
//! ValidatingWebhookConfiguration (never a patch: the API server refuses one there).
// `#[http_component]` exports the handler to the Spin host with generated unsafe code.
#![allow(unsafe_code)]

use resource_limits::review::{admission_review, NotAReview};
use resource_limits::{Settings, Webhook};
use serde_json::json;
use spin_sdk::http::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use spin_sdk::http_component;
use wasi::io::streams::StreamError;

/// Bodies above this are refused with 413 (the API server sends at most 3 MiB objects).
pub const MAX_BODY: u64 = 3 * 1024 * 1024;

#[http_component]
fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let answer = route(req);
    respond(out, &answer);
}

/// An HTTP answer.
struct Answer {
    /// The status code.
    status: u16,
    /// One extra header (`allow` on a 405).
    extra: Option<(&'static str, &'static str)>,
    /// The JSON body.
    body: Vec<u8>,
}

impl Answer {
    fn ok(body: Vec<u8>) -> Answer {
        Answer {
            status: 200,
            extra: None,
            body,
        }
    }

    /// 405, with the method to use.
    fn wrong_method(allow: &'static str) -> Answer {
        Answer {
            status: 405,
            extra: Some(("allow", allow)),
            body: json!({ "error": format!("use {allow}") })
                .to_string()
                .into_bytes(),
        }
    }
}

fn error(status: u16, message: &str) -> Answer {
    Answer {
        status,
        extra: None,
        body: json!({ "error": message }).to_string().into_bytes(),
    }
}

fn settings() -> Result<Settings, String> {
    let raw = spin_sdk::variables::get("settings")
        .map_err(|e| format!("the settings variable cannot be read: {e}"))?;
    Settings::from_json(raw.as_bytes()).map_err(|e| format!("invalid settings: {e}"))
}

fn route(req: IncomingRequest) -> Answer {
    let path = req.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default().to_owned();
    let method = req.method();
    match (path.as_str(), method) {
        ("/mutate", Method::Post) => review(req, Webhook::Mutating),
        ("/validate", Method::Post) => review(req, Webhook::Validating),
        ("/mutate" | "/validate", _) => Answer::wrong_method("POST"),
        ("/healthz", Method::Get | Method::Head) => match settings() {
            Ok(_) => Answer::ok(br#"{"status":"ok"}"#.to_vec()),
            Err(e) => error(500, &e),
        },
        ("/healthz", _) => Answer::wrong_method("GET"),
        _ => error(
            404,
            &format!("no such endpoint: {path} (POST /mutate, POST /validate, GET /healthz)"),
        ),
    }
}

/// Answers an AdmissionReview, as a mutating or a validating webhook.
fn review(req: IncomingRequest, webhook: Webhook) -> Answer {
    let body = match read_body(req) {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    let settings = match settings() {
        Ok(s) => s,
        Err(e) => return error(500, &e),
    };
    match admission_review(&settings, &body, webhook) {
        Ok(review) => Answer::ok(review.to_json()),
        Err(NotAReview(e)) => error(400, &e),
    }
}

/// Reads the body, refusing it once it passes the limit (whatever `content-length` says, or
/// without one). One blocking read per chunk the host has: the SDK's body stream (a read,
/// then a wait on a pollable through its executor when nothing has come yet) and asking for
/// `content-length` (a copy of every header) each cost several host calls a request, a
/// tenth of the component's work.
fn read_body(req: IncomingRequest) -> Result<Vec<u8>, Answer> {
    let unreadable = |why: &str| error(400, &format!("the body could not be read: {why}"));
    let incoming = req
        .consume()
        .map_err(|()| unreadable("it was already taken"))?;
    let stream = incoming
        .stream()
        .map_err(|()| unreadable("its stream was already taken"))?;
    let mut body = Vec::new();
    loop {
        // At most one byte over the limit is asked for: enough to know it is over.
        let room = MAX_BODY + 1 - body.len() as u64;
        match stream.blocking_read(room) {
            Ok(chunk) if body.is_empty() => body = chunk,
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(unreadable(&e.to_debug_string()))
            }
        }
        if body.len() as u64 > MAX_BODY {
            return Err(error(413, "the body is over 3 MiB"));
        }
    }
    // The stream goes before the body it belongs to (the host refuses the other order).
    drop(stream);
    drop(incoming);
    Ok(body)
}

/// Hands the host the response with its body already written: headers and body then leave
/// in one write. Setting the response first and writing the body after (what
/// `ResponseOutparam::set_with_body` does) lets the host send the headers alone, and with
/// Nagle's algorithm and delayed ACKs a keep-alive client then waits about 40 ms for the
/// body. The body goes in one `write` of at most what `check-write` permits (the host's pipe
/// holds one such chunk before anyone reads it; more would block until the response is
/// set); a larger body's rest follows once the response is set.
fn respond(out: ResponseOutparam, answer: &Answer) {
    let (status, body) = (answer.status, answer.body.as_slice());
    if cfg!(feature = "naive-respond") {
        return respond_naively(out, status, body);
    }
    let mut headers = vec![
        ("content-type".to_owned(), b"application/json".to_vec()),
        (
            "content-length".to_owned(),
            // Without core::fmt, which nothing else of a usual answer reaches.
            itoa::Buffer::new().format(body.len()).as_bytes().to_vec(),
        ),
    ];
    if let Some((k, v)) = answer.extra {
        headers.push((k.to_owned(), v.as_bytes().to_vec()));
    }
    let Some((response, outgoing)) = new_response(status, &headers) else {
        return;
    };
    let Ok(stream) = outgoing.write() else {
        return;
    };
    let first = stream
        .check_write()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX).min(body.len()))
        .unwrap_or(0);
    if first > 0 && stream.write(&body[..first]).is_err() {
        return;
    }
    if first == body.len() {
        drop(stream);
        if OutgoingBody::finish(outgoing, None).is_ok() {
            out.set(response);
        }
        return;
    }
    out.set(response);
    for chunk in body[first..].chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(outgoing, None);
}

/// Benchmark only (feature `naive-respond`): the response first, the body after.
fn respond_naively(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = [("content-type".to_owned(), b"application/json".to_vec())];
    let Some((response, outgoing)) = new_response(status, &headers) else {
        return;
    };
    out.set(response);
    if let Ok(stream) = outgoing.write() {
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                return;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// A response with these status and headers, and its body to write.
fn new_response(
    status: u16,
    headers: &[(String, Vec<u8>)],
) -> Option<(OutgoingResponse, OutgoingBody)> {
    let fields = Fields::from_list(headers).ok()?;
    let response = OutgoingResponse::new(fields);
    // A new response is a 200: one host call less for almost every answer.
    if status != 200 {
        response.set_status_code(status).ok()?;
    }
    let body = response.body().ok()?;
    Some((response, body))
}
