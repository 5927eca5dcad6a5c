//! The shared case table, the hostile inputs and the fuzzers' generated samples through the
//! native server over HTTPS, on HTTP/1.1 and HTTP/2: every answer is the core's, byte for
//! byte, and the case table's expectations hold.

mod common;

use common::{Conn, Files, Proto, Running};
use resource_limits::review::{admission_review, NotAReview};
use resource_limits::{Settings, Webhook};
use resource_limits_server::StartError;
use serde_json::Value;
use std::collections::BTreeMap;

/// What the core answers a body on a path: (status, body) as the server must send it.
fn core_answer(settings: &Settings, body: &[u8], webhook: Webhook) -> (u16, Value) {
    match admission_review(settings, body, webhook) {
        Ok(review) => (
            200,
            serde_json::from_slice(&review.to_json()).unwrap_or(Value::Null),
        ),
        Err(NotAReview(message)) => (400, serde_json::json!({ "error": message })),
    }
}

/// Both paths on both protocols answer `body` as the core does.
async fn same_as_core(
    conns: &mut [(Proto, Conn)],
    settings: &Settings,
    body: &[u8],
) -> Result<Value, String> {
    let mut mutate = Value::Null;
    for (proto, conn) in conns.iter_mut() {
        if body.len() > resource_limits_server::MAX_BODY {
            let reply = conn.send("POST", "/validate", body).await?;
            return match reply.status {
                413 => Ok(Value::Null),
                _ => Err(format!(
                    "{proto:?}: a body over the limit: {}",
                    reply.status
                )),
            };
        }
        for (path, webhook) in [
            ("/mutate", Webhook::Mutating),
            ("/validate", Webhook::Validating),
        ] {
            let reply = conn
                .send("POST", path, body)
                .await
                .map_err(|e| format!("{proto:?}: {e}"))?;
            let want = core_answer(settings, body, webhook);
            if (reply.status, reply.json()) != want || reply.content_type != "application/json" {
                return Err(format!(
                    "{proto:?} {path}: {} {} ({}), the core: {} {}",
                    reply.status,
                    reply.text(),
                    reply.content_type,
                    want.0,
                    want.1
                ));
            }
            if path == "/mutate" {
                mutate = reply.json();
            }
        }
    }
    Ok(mutate)
}

async fn open_both(running: &Running, files: &Files) -> Result<Vec<(Proto, Conn)>, String> {
    let mut conns = Vec::new();
    for proto in [Proto::H1, Proto::H2] {
        let conn = Conn::open(running.addr, &files.pki.ca, proto).await?;
        let want: &[u8] = if proto == Proto::H1 {
            b"http/1.1"
        } else {
            b"h2"
        };
        if conn.alpn.as_deref() != Some(want) {
            return Err(format!("ALPN chose {:?} for {proto:?}", conn.alpn));
        }
        conns.push((proto, conn));
    }
    Ok(conns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case_table_through_the_server() {
    let cases = testkit::load();
    // One server per settings (the server reads them from its file).
    let mut groups: BTreeMap<String, Vec<&testkit::Case>> = BTreeMap::new();
    for case in &cases {
        groups
            .entry(case.settings.to_string())
            .or_default()
            .push(case);
    }
    let mut failures = Vec::new();
    let mut mutated = 0;
    for (settings_json, group) in &groups {
        let files = Files::new("table", settings_json);
        let started = Running::start(files.config()).await;
        let running = match (started, &group[0].expect.settings_error) {
            (Err(StartError::Settings(e)), Some(want)) => {
                if !e.to_string().ends_with(want.as_str()) {
                    failures.push(format!(
                        "{}: start refused with {e}, not …{want}",
                        group[0].name
                    ));
                }
                continue;
            }
            (Err(e), _) => {
                failures.push(format!("{}: did not start: {e}", group[0].name));
                continue;
            }
            (Ok(r), Some(want)) => {
                failures.push(format!("{}: started despite {want}", group[0].name));
                r.stop().await;
                continue;
            }
            (Ok(r), None) => r,
        };
        let settings = Settings::from_json(settings_json.as_bytes()).unwrap_or_default();
        let mut conns = match open_both(&running, &files).await {
            Ok(c) => c,
            Err(e) => {
                failures.push(e);
                running.stop().await;
                continue;
            }
        };
        for case in group {
            let body = case.admission_review();
            let result = match same_as_core(&mut conns, &settings, body.as_bytes()).await {
                Ok(review) if case.unreadable_review().is_none() => {
                    mutated += usize::from(review["response"]["patch"].is_string());
                    testkit::answer_from_review(case, &review).and_then(|a| case.check(&a))
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                failures.push(format!("{}: {e}", case.name));
            }
        }
        running.stop().await;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        mutated > 10,
        "only {mutated} mutations: the table did not reach the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_get_the_cores_answer() {
    let mut failures = Vec::new();
    let hostile = testkit::hostile_requests();
    assert!(hostile.len() > 5);
    for h in &hostile {
        let files = Files::new("hostile", &h.settings.to_string());
        let running = Running::start(files.config()).await.expect("start");
        let settings = Settings::from_json(h.settings.to_string().as_bytes()).unwrap_or_default();
        let body = testkit::review_body(&h.request);
        let result = match open_both(&running, &files).await {
            Ok(mut conns) => same_as_core(&mut conns, &settings, &body)
                .await
                .and_then(|review| {
                    let message = review["response"]["status"]["message"]
                        .as_str()
                        .unwrap_or_default();
                    // Refused: by the core's rejection (its message starts as every host's
                    // does), by a 400 where the body is no AdmissionReview (the core's answer
                    // too; compared above), or by a 413 (null here).
                    let refused =
                        review["response"]["allowed"] == false && message.starts_with(h.prefix);
                    if refused || review.is_null() || review["error"].is_string() {
                        Ok(())
                    } else {
                        Err(format!("not refused with {:?}: {review}", h.prefix))
                    }
                }),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            failures.push(format!("{}: {e}", h.name));
        }
        // Still serving after it.
        if common::once(running.addr, &files.pki.ca, "GET", "/healthz", b"")
            .await
            .map(|r| r.status)
            != Ok(200)
        {
            failures.push(format!("{}: /healthz failed afterwards", h.name));
        }
        running.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_samples_get_the_cores_answer() {
    let count = std::env::var("GENERATED_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let samples = resource_limits_fuzz::gen::samples(0x5eed_0005, count);
    let mut failures = Vec::new();
    let mut served = 0;
    for (i, s) in samples.iter().enumerate() {
        let Ok(settings) =
            Settings::from_json(&serde_json::to_vec(&s.settings).unwrap_or_default())
        else {
            continue;
        };
        let files = Files::new("generated", &s.settings.to_string());
        let running = match Running::start(files.config()).await {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("sample {i}: valid settings refused: {e}"));
                continue;
            }
        };
        let body = testkit::review_body(&serde_json::to_vec(&s.request).unwrap_or_default());
        match open_both(&running, &files).await {
            Ok(mut conns) => {
                if let Err(e) = same_as_core(&mut conns, &settings, &body).await {
                    failures.push(format!("sample {i}: {e}"));
                }
                served += 1;
            }
            Err(e) => failures.push(format!("sample {i}: {e}")),
        }
        running.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        served > count / 4,
        "only {served} of {count} samples had valid settings"
    );
}
