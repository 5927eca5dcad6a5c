//! What only the native server does: its endpoints and HTTP refusals, the settings and the
//! certificate re-read while it serves (a broken new file keeps the last good one), the
//! read timeout, a graceful shutdown that answers what is in flight, and TLS only.

mod common;

use common::{eventually, once, Conn, Files, Pki, Proto, Running};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

const BOUNDED: &str = r#"{"cpu": {"maxLimit": "2", "defaultRequest": "100m", "defaultLimit": "500m"},
  "memory": {"maxLimit": "1Gi", "defaultRequest": "64Mi", "defaultLimit": "256Mi"}}"#;

/// An AdmissionReview of a Pod whose one container has these limits.
fn pod_review(cpu: &str, memory: &str) -> Vec<u8> {
    let request = serde_json::json!({
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE", "namespace": "apps",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "app",
                "resources": {"limits": {"cpu": cpu, "memory": memory},
                              "requests": {"cpu": "100m", "memory": "64Mi"}}}]}}
    });
    testkit::review_body(&serde_json::to_vec(&request).unwrap_or_default())
}

fn allowed(reply: &common::Reply) -> Option<bool> {
    reply.json()["response"]["allowed"].as_bool()
}

/// The value of one sample of the metrics text (`name{labels}`), 0 when absent.
fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_and_http_refusals() {
    let files = Files::new("endpoints", BOUNDED);
    let running = Running::start(files.config()).await.expect("start");
    let ca = &files.pki.ca;
    let mut conn = Conn::open(running.addr, ca, Proto::H1)
        .await
        .expect("connect");

    let health = conn.send("GET", "/healthz", b"").await.expect("healthz");
    assert_eq!(
        (health.status, health.json()),
        (200, serde_json::json!({"status": "ok"}))
    );
    let ready = conn.send("GET", "/readyz", b"").await.expect("readyz");
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready");
    assert_eq!(ready.json()["problems"], serde_json::json!([]));

    // Reviews: admitted, refused, mutated.
    let ok = conn
        .send("POST", "/validate", &pod_review("1", "512Mi"))
        .await
        .expect("review");
    assert_eq!(
        (ok.status, allowed(&ok)),
        (200, Some(true)),
        "{}",
        ok.text()
    );
    let over = conn
        .send("POST", "/validate", &pod_review("3", "512Mi"))
        .await
        .expect("review");
    assert_eq!(allowed(&over), Some(false), "{}", over.text());
    assert!(
        over.json()["response"]["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cpu limit 3 exceeds maxLimit 2")),
        "{}",
        over.text()
    );

    // Not a review: 400 with the reason, the connection kept.
    let bad = conn
        .send("POST", "/mutate", b"{not json")
        .await
        .expect("bad body");
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("the body is not valid JSON")),
        "{}",
        bad.text()
    );
    // Wrong method: 405 naming the right one.
    let get = conn.send("GET", "/mutate", b"").await.expect("GET /mutate");
    assert_eq!((get.status, get.allow.as_deref()), (405, Some("POST")));
    let post = conn
        .send("POST", "/healthz", b"")
        .await
        .expect("POST /healthz");
    assert_eq!((post.status, post.allow.as_deref()), (405, Some("GET")));
    // Unknown path: 404 listing the endpoints.
    let none = conn.send("GET", "/", b"").await.expect("GET /");
    assert_eq!(none.status, 404);
    assert!(
        none.text().contains("POST /mutate, POST /validate"),
        "{}",
        none.text()
    );
    // Over 3 MiB: 413, with or without a declared length it does not matter.
    let big = vec![b' '; resource_limits_server::MAX_BODY + 1];
    let too_big = conn.send("POST", "/mutate", &big).await.expect("big body");
    assert_eq!(too_big.status, 413);
    // Exactly 3 MiB is read (and is no review).
    let mut h2 = Conn::open(running.addr, ca, Proto::H2).await.expect("h2");
    let limit = h2
        .send(
            "POST",
            "/mutate",
            &vec![b' '; resource_limits_server::MAX_BODY],
        )
        .await
        .expect("3 MiB");
    assert_eq!(limit.status, 400, "{}", limit.text());

    // The metrics count what happened, by path and verdict.
    let metrics = h2.send("GET", "/metrics", b"").await.expect("metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .content_type
            .starts_with("application/openmetrics-text"),
        "{}",
        metrics.content_type
    );
    let m = metrics.text();
    assert_eq!(
        metric(
            &m,
            r#"resource_limits_reviews_total{path="/validate",verdict="accepted"}"#
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"resource_limits_reviews_total{path="/validate",verdict="rejected"}"#
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"resource_limits_reviews_total{path="/mutate",verdict="bad_request"}"#
        ),
        2.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"resource_limits_reviews_total{path="/mutate",verdict="too_large"}"#
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"resource_limits_review_duration_seconds_count{path="/validate"}"#
        ),
        2.0,
        "{m}"
    );
    assert!(m.trim_end().ends_with("# EOF"), "{m}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_reload_and_a_broken_file_keeps_the_last_good() {
    let files = Files::new("settings-reload", BOUNDED);
    let running = Running::start(files.config()).await.expect("start");
    let ca = files.pki.ca.clone();
    let addr = running.addr;
    let verdict = |cpu: &'static str| {
        let ca = ca.clone();
        async move {
            once(addr, &ca, "POST", "/validate", &pod_review(cpu, "512Mi"))
                .await
                .ok()
                .and_then(|r| allowed(&r))
        }
    };
    assert_eq!(verdict("3").await, Some(false));
    // New bounds (as YAML: a ConfigMap's settings.yaml) hold within a few seconds.
    common::write_atomically(
        &files.dir.join("settings.json"),
        b"cpu:\n  maxLimit: \"4\"\n",
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            verdict("3").await == Some(true)
        })
        .await
    );
    // A broken file: the last good settings stay, /readyz and /metrics say so.
    common::write_atomically(
        &files.dir.join("settings.json"),
        b"cpu:\n  maxLimt: \"1\"\n",
    );
    let said = eventually(Duration::from_secs(5), || async {
        once(addr, &ca, "GET", "/readyz", b"")
            .await
            .is_ok_and(|r| r.status == 200 && r.text().contains("cpu.maxLimt: unknown setting"))
    })
    .await;
    assert!(said, "/readyz does not name the problem");
    assert_eq!(
        verdict("3").await,
        Some(true),
        "the last good settings are not kept"
    );
    assert_eq!(verdict("5").await, Some(false));
    let m = once(addr, &ca, "GET", "/metrics", b"")
        .await
        .expect("metrics")
        .text();
    assert_eq!(
        metric(&m, r#"resource_limits_settings_reloads_total{result="ok"}"#),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"resource_limits_settings_reloads_total{result="failed"}"#
        ),
        1.0,
        "{m}"
    );
    // An empty file (one being rewritten in place) is not the plain rule: the last good stay.
    common::write_atomically(&files.dir.join("settings.json"), b"");
    let said = eventually(Duration::from_secs(5), || async {
        once(addr, &ca, "GET", "/readyz", b"")
            .await
            .is_ok_and(|r| r.text().contains("empty (being written?)"))
    })
    .await;
    assert!(said, "/readyz does not say the file is empty");
    assert_eq!(
        verdict("3").await,
        Some(true),
        "an empty file dropped the bounds"
    );
    assert_eq!(
        verdict("5").await,
        Some(false),
        "an empty file dropped the bounds"
    );
    // A removed file too; then a good one clears the problem.
    std::fs::remove_file(files.dir.join("settings.json")).expect("remove");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(verdict("3").await, Some(true));
    common::write_atomically(&files.dir.join("settings.json"), BOUNDED.as_bytes());
    let cleared = eventually(Duration::from_secs(5), || async {
        once(addr, &ca, "GET", "/readyz", b"")
            .await
            .is_ok_and(|r| r.json()["problems"] == serde_json::json!([]))
    })
    .await;
    assert!(cleared);
    assert_eq!(verdict("3").await, Some(false));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_without_a_failed_review() {
    let files = Files::new("rotation", BOUNDED);
    let running = Running::start(files.config()).await.expect("start");
    let addr = running.addr;
    let old_ca = files.pki.ca.clone();
    // A connection kept across the rotation goes on answering.
    let mut kept = Conn::open(addr, &old_ca, Proto::H2).await.expect("connect");
    let review = pod_review("1", "512Mi");
    assert_eq!(
        kept.send("POST", "/validate", &review)
            .await
            .map(|r| r.status),
        Ok(200)
    );

    // Reviews keep coming while cert-manager writes a new pair under a new CA.
    let load = tokio::spawn({
        let old_ca = old_ca.clone();
        let review = review.clone();
        async move {
            let mut failures = Vec::new();
            let mut done = 0;
            let started = tokio::time::Instant::now();
            while started.elapsed() < Duration::from_secs(2) {
                match once(addr, &old_ca, "POST", "/validate", &review).await {
                    Ok(r) if r.status == 200 => done += 1,
                    // After the swap, only the old CA's trust fails: a handshake error.
                    Err(e) if e.starts_with("TLS") => break,
                    other => failures.push(format!("{other:?}")),
                }
            }
            (done, failures)
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let next = Pki::new("rotated CA");
    next.write(&files.dir);
    let (done, failures) = load.await.expect("load");
    assert!(failures.is_empty(), "{failures:?}");
    assert!(done > 0);
    let rotated = eventually(Duration::from_secs(5), || async {
        once(addr, &next.ca, "POST", "/validate", &review)
            .await
            .is_ok_and(|r| r.status == 200)
    })
    .await;
    assert!(rotated, "the new certificate is not served");
    assert!(
        once(addr, &old_ca, "GET", "/healthz", b"").await.is_err(),
        "the old one still is"
    );
    assert_eq!(
        kept.send("POST", "/validate", &review)
            .await
            .map(|r| r.status),
        Ok(200)
    );

    // A key that is not the certificate's: the last good pair stays, and that is said.
    std::fs::write(files.dir.join("tls.key"), Pki::new("other").key).expect("write");
    let said = eventually(Duration::from_secs(5), || async {
        once(addr, &next.ca, "GET", "/readyz", b"")
            .await
            .is_ok_and(|r| r.text().contains("do not make a certificate and its key"))
    })
    .await;
    assert!(said, "/readyz does not name the broken pair");
    let m = once(addr, &next.ca, "GET", "/metrics", b"")
        .await
        .expect("metrics")
        .text();
    // At least the broken key (the two files of the rotation, written one after the other,
    // may have been seen apart once, too).
    assert!(
        metric(
            &m,
            r#"resource_limits_certificate_reloads_total{result="failed"}"#
        ) >= 1.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            r#"resource_limits_certificate_reloads_total{result="ok"}"#
        ) >= 1.0,
        "{m}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_the_review_in_flight() {
    let files = Files::new("shutdown", BOUNDED);
    let mut config = files.config();
    config.shutdown_delay = Duration::from_millis(300);
    let mut running = Running::start(config).await.expect("start");
    let addr = running.addr;
    let ca = files.pki.ca.clone();
    // A review whose body is half sent when the shutdown begins.
    let body = pod_review("1", "512Mi");
    let mut tls = raw_tls(addr, &ca).await;
    let head = format!(
        "POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.expect("write");
    tls.write_all(&body[..body.len() / 2]).await.expect("write");
    tls.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.shut_down();
    // Not ready any more, while still taking connections for the delay.
    let ready = once(addr, &ca, "GET", "/readyz", b"")
        .await
        .expect("readyz during the delay");
    assert_eq!(ready.status, 503);
    tls.write_all(&body[body.len() / 2..])
        .await
        .expect("write the rest");
    tls.flush().await.expect("flush");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""allowed":true"#), "{answer}");
    running.stop().await;
    // Stopped: nothing listens.
    assert!(TcpStream::connect(addr).await.is_err());
}

/// A TLS connection (HTTP/1.1 by ALPN) to write raw HTTP on.
async fn raw_tls(
    addr: std::net::SocketAddr,
    ca: &str,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    common::connector(ca, Proto::H1)
        .connect(
            ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
            tcp,
        )
        .await
        .expect("TLS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_plain_http_is_refused() {
    let files = Files::new("slow", BOUNDED);
    let mut config = files.config();
    config.read_timeout = Duration::from_millis(500);
    let running = Running::start(config).await.expect("start");
    let addr = running.addr;
    let ca = files.pki.ca.clone();

    // Headers that never end: the connection is closed.
    let mut tls = raw_tls(addr, &ca).await;
    tls.write_all(b"POST /validate HTTP/1.1\r\nhost: x\r\n")
        .await
        .expect("write");
    tls.flush().await.expect("flush");
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
    assert!(
        closed.is_ok(),
        "a connection whose headers never end stays open"
    );

    // A body that stops: 408.
    let mut tls = raw_tls(addr, &ca).await;
    tls.write_all(b"POST /validate HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{\"a\"")
        .await
        .expect("write");
    tls.flush().await.expect("flush");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");

    // A handshake never started: closed.
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let mut buf = Vec::new();
    assert!(
        tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf))
            .await
            .is_ok()
    );

    // Plain HTTP on the TLS port: no HTTP answer, only the connection closed (TLS only).
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert!(
        !String::from_utf8_lossy(&buf).contains("HTTP/1.1"),
        "plain HTTP answered"
    );

    // And it still serves.
    let health = once(addr, &ca, "GET", "/healthz", b"")
        .await
        .expect("healthz");
    assert_eq!(health.status, 200);
    let m = once(addr, &ca, "GET", "/metrics", b"")
        .await
        .expect("metrics")
        .text();
    assert_eq!(
        metric(
            &m,
            r#"resource_limits_reviews_total{path="/validate",verdict="timeout"}"#
        ),
        1.0,
        "{m}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_start_says_why() {
    let files = Files::new("bad-start", BOUNDED);
    let mut config = files.config();
    std::fs::write(
        files.dir.join("bad.json"),
        br#"{"cpu": {"maxLimit": "lots"}}"#,
    )
    .expect("write");
    config.settings = files.dir.join("bad.json");
    let e = Running::start(config.clone())
        .await
        .err()
        .map(|e| e.to_string());
    assert!(e.as_deref().is_some_and(|e| e.contains("bad.json: invalid settings") && e.contains("cpu.maxLimit")), "{e:?}");
    config.settings = files.dir.join("settings.json");
    config.tls_private_key_file = files.dir.join("missing.key");
    let e = Running::start(config.clone())
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|e| e.contains("missing.key: cannot be read")),
        "{e:?}"
    );
    config.tls_private_key_file = files.dir.join("tls.crt");
    let e = Running::start(config.clone())
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|e| e.contains("tls.crt: no PEM private key")),
        "{e:?}"
    );
    config.tls_private_key_file = files.dir.join("tls.key");
    let running = Running::start(config.clone()).await.expect("start");
    // The port is taken now.
    config.listen = running.addr;
    let e = Running::start(config).await.err().map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|e| e.starts_with(&format!("cannot listen on {}", running.addr))),
        "{e:?}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_changed_between_the_start_and_serving_are_taken() {
    let files = Files::new("early-change", BOUNDED);
    // Read at the start (maxLimit 2), changed before the reload thread's first look.
    let server = resource_limits_server::Server::start(files.config())
        .await
        .expect("start");
    common::write_atomically(
        &files.dir.join("settings.json"),
        b"cpu:\n  maxLimit: \"4\"\n",
    );
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let ca = files.pki.ca.clone();
    let taken = eventually(Duration::from_secs(5), || async {
        once(addr, &ca, "POST", "/validate", &pod_review("3", "512Mi"))
            .await
            .ok()
            .and_then(|r| allowed(&r))
            == Some(true)
    })
    .await;
    assert!(
        taken,
        "the settings written after the start were never read"
    );
    let _ = stop.send(());
    let _ = done.await;
}
