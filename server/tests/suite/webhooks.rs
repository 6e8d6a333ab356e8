//! Outbound calls made safe: HTTPS to a receiver whose certificate comes from the server's
//! extra CA, deliveries signed over a timestamp, addresses that are not public refused when
//! a rule is saved and when it is called, redirects not followed, a slow receiver holding
//! up nobody else, and bad settings refused at start.
//!
//! Servers run on a test clock that stands still unless moved; effects are polled for with
//! a deadline ([`eventually`]), never waited for with a fixed sleep.

use crate::server_support::{
    counting_receiver, error_fields, eventually, Setup, TestServer, LOCAL_RECEIVERS,
};
use crate::support;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};
use promptly_server::clock::Clock;
use promptly_server::outbox::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio_rustls::rustls;

/// How long (real time) an effect may take to show before a test fails.
const WITHIN: std::time::Duration = std::time::Duration::from_secs(10);
/// How far a receiver lets a delivery's timestamp be from its own clock (README).
const TOLERANCE_S: i64 = 300;

fn t0() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

/// A rule that POSTs every new customer message to `urls` (one webhook action each).
fn webhook_rule(name: &str, urls: &[&str]) -> Value {
    let actions: Vec<Value> = urls
        .iter()
        .map(|u| json!({"type": "webhook", "url": u, "secret": "hook-secret"}))
        .collect();
    json!({"name": name, "event": "message.created", "actions": actions})
}

/// Posts one customer message: every rule of [`webhook_rule`] fires.
async fn message(s: &TestServer, t: &str, id: &str) {
    let (status, body) = s
        .post(
            "/api/v1/events",
            t,
            json!({"id": id, "type": "message.created", "conversation": id,
                   "author": "customer", "text": "Hello"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The deliveries, oldest first.
async fn deliveries(s: &TestServer, t: &str) -> Vec<Value> {
    let (_, d) = s.get("/api/v1/deliveries", t).await;
    let mut d = d.as_array().unwrap().clone();
    d.reverse();
    d
}

/// What a receiver does with a request, as a receiver should: checks the timestamp against
/// its clock and the signature over `"{timestamp}.{body}"` (computed here, not with the
/// server's code).
fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<String, String> {
    use hmac::{Hmac, Mac};
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("no {name}"))
    };
    let timestamp = header(TIMESTAMP_HEADER)?;
    let at: i64 = timestamp.parse().map_err(|_| "a bad timestamp")?;
    if (now - at).abs() > TOLERANCE_S {
        return Err(format!("timestamp {at} is too far from {now}"));
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let given = header(SIGNATURE_HEADER)?;
    if given != format!("sha256={expected}") {
        return Err("the signature does not match".into());
    }
    Ok(header(DELIVERY_HEADER)?.to_string())
}

/// A test CA and a certificate it issued for localhost and 127.0.0.1: the CA's PEM file
/// (what `PROMPTLY_EGRESS_CA_FILE` names) and a TLS acceptor with the certificate.
struct TestCa {
    _dir: tempfile::TempDir,
    ca_file: std::path::PathBuf,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl TestCa {
    fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Promptly test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let mut leaf =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        // ring is the only provider built in (reqwest's and this test's choice).
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TestCa {
            _dir: dir,
            ca_file,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        }
    }
}

/// Accepts TLS connections for `axum::serve` (a failed handshake is skipped).
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An HTTPS receiver on 127.0.0.1 that verifies each delivery against `clock` (answering
/// 401 when it does not verify): its URL, and the delivery ids it accepted.
async fn https_receiver(ca: &TestCa, clock: Clock) -> (String, Arc<Mutex<Vec<String>>>) {
    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = accepted.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            let now = clock.now().timestamp();
            async move {
                match verify("hook-secret", &headers, &body, now) {
                    Ok(id) => {
                        record.lock().unwrap().push(id);
                        axum::http::StatusCode::NO_CONTENT
                    }
                    Err(_) => axum::http::StatusCode::UNAUTHORIZED,
                }
            }
        }),
    );
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = TlsListener {
        tcp,
        acceptor: ca.acceptor.clone(),
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("https://127.0.0.1:{port}/hook"), accepted)
}

#[tokio::test]
async fn https_deliveries_reach_a_receiver_of_the_extra_ca_signed_with_a_timestamp() {
    let ca = TestCa::new();
    let s = TestServer::start_with(
        Setup::at(t0())
            .allow_egress(LOCAL_RECEIVERS)
            .egress_ca_file(&ca.ca_file),
    )
    .await;
    let t = s.token().await;
    let (hook, accepted) = https_receiver(&ca, s.state.clock.clone()).await;
    s.create("/api/v1/rules", &t, webhook_rule("Tell", &[&hook]))
        .await;
    message(&s, &t, "tls-1").await;
    let d = eventually(WITHIN, "the HTTPS delivery", || async {
        let d = deliveries(&s, &t).await;
        (d.first().is_some_and(|d| d["status"] == "delivered")).then_some(d)
    })
    .await;
    assert_eq!(
        *accepted.lock().unwrap(),
        [d[0]["id"].to_string()],
        "the receiver verified the signature and the timestamp"
    );

    // Without the extra CA the receiver's certificate is not trusted: the attempt fails and
    // says why.
    let untrusting = TestServer::start_with(Setup::at(t0()).allow_egress(LOCAL_RECEIVERS)).await;
    let t = untrusting.token().await;
    untrusting
        .create("/api/v1/rules", &t, webhook_rule("Tell", &[&hook]))
        .await;
    message(&untrusting, &t, "tls-2").await;
    let d = eventually(WITHIN, "the failed attempt", || async {
        let d = deliveries(&untrusting, &t).await;
        (d.first().is_some_and(|d| d["attempts"] == 1)).then_some(d)
    })
    .await;
    let error = d[0]["last_error"].as_str().unwrap();
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(accepted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_replayed_or_altered_delivery_does_not_verify() {
    // What the README tells receivers to check, checked against a delivery as the server
    // signs it.
    let body = r#"{"type":"message.send"}"#;
    let at = t0().timestamp();
    let mut headers = HeaderMap::new();
    headers.insert(TIMESTAMP_HEADER, at.to_string().parse().unwrap());
    headers.insert(
        SIGNATURE_HEADER,
        promptly_server::outbox::signature("hook-secret", at, body)
            .parse()
            .unwrap(),
    );
    headers.insert(DELIVERY_HEADER, "7".parse().unwrap());
    assert_eq!(
        verify("hook-secret", &headers, body.as_bytes(), at + 60),
        Ok("7".into())
    );
    assert!(
        verify(
            "hook-secret",
            &headers,
            body.as_bytes(),
            at + TOLERANCE_S + 1
        )
        .is_err(),
        "replayed after the tolerance"
    );
    assert!(
        verify("hook-secret", &headers, b"{}", at).is_err(),
        "another body"
    );
    headers.insert(TIMESTAMP_HEADER, (at + 1).to_string().parse().unwrap());
    assert!(
        verify("hook-secret", &headers, body.as_bytes(), at).is_err(),
        "the timestamp is signed"
    );
}

#[tokio::test]
async fn webhooks_to_addresses_that_are_not_public_are_refused_unless_allowed() {
    let s = TestServer::start().await;
    let t = s.token().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://10.0.0.1/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://localhost:9/hook",
    ] {
        let (status, e) = s
            .post("/api/v1/rules", &t, webhook_rule("Leak", &[url]))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {e}");
        assert_eq!(error_fields(&e), ["actions[0].url"], "{url}: {e}");
        let said = e["errors"][0]["message"].as_str().unwrap();
        assert!(said.starts_with("refused: "), "{said}");
        assert!(said.contains("PROMPTLY_EGRESS_ALLOW"), "{said}");
    }
    // Each refused URL is named by its place; a public one passes.
    let (status, e) = s
        .post(
            "/api/v1/rules",
            &t,
            webhook_rule(
                "Mixed",
                &["https://hooks.example/a", "http://192.168.1.1/b", "ftp://x"],
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_fields(&e),
        ["actions[2].url", "actions[1].url"],
        "{e}"
    );
    s.create(
        "/api/v1/rules",
        &t,
        webhook_rule("Public", &["https://hooks.example/a"]),
    )
    .await;
    // A channel's outbound webhook too.
    let (status, e) = s
        .put(
            "/api/v1/channels/sms/outbound",
            &t,
            json!({"url": "http://169.254.169.254/", "secret": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&e), ["url"]);

    // The allow-list lets through what it names, and nothing else.
    let s = TestServer::start_with(Setup::default().allow_egress("127.0.0.1/32,10.0.0.0/8")).await;
    let t = s.token().await;
    for allowed in ["http://127.0.0.1:9/hook", "http://10.0.0.1/hook"] {
        s.create("/api/v1/rules", &t, webhook_rule("Allowed", &[allowed]))
            .await;
    }
    for refused in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://127.0.0.2/hook",
    ] {
        let (status, e) = s
            .post("/api/v1/rules", &t, webhook_rule("Leak", &[refused]))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}: {e}");
    }
    let (status, e) = s
        .put(
            "/api/v1/channels/sms/outbound",
            &t,
            json!({"url": "http://10.1.2.3/send", "secret": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_not_followed() {
    // The internal service: 127.0.0.1, which this server may not reach.
    let (internal, internal_hits) = counting_receiver().await;
    let target = format!("http://127.0.0.1:{internal}/admin");
    // The receiver (allowed by its name) answers with a redirect to it.
    let location = target.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let location = location.clone();
            async move {
                (
                    axum::http::StatusCode::TEMPORARY_REDIRECT,
                    [(axum::http::header::LOCATION, location)],
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = TestServer::start_with(Setup::at(t0()).allow_egress("localhost")).await;
    let t = s.token().await;
    s.create(
        "/api/v1/rules",
        &t,
        webhook_rule("Tell", &[&format!("http://localhost:{port}/hook")]),
    )
    .await;
    message(&s, &t, "redirect-1").await;
    let d = eventually(WITHIN, "the redirected attempt", || async {
        let d = deliveries(&s, &t).await;
        (d.first().is_some_and(|d| d["attempts"] == 1)).then_some(d)
    })
    .await;
    assert_eq!(d[0]["status"], "pending", "a failed attempt, retried later");
    assert_eq!(
        d[0]["last_error"],
        format!(
            "the receiver redirected to {target} (307 Temporary Redirect); redirects are not followed"
        )
    );
    // The retry does the same.
    s.advance(Duration::seconds(10));
    eventually(WITHIN, "the second attempt", || async {
        let d = deliveries(&s, &t).await;
        (d[0]["attempts"] == 2).then_some(())
    })
    .await;
    assert_eq!(
        internal_hits.load(Ordering::SeqCst),
        0,
        "nothing reached it"
    );
}

/// A receiver on 127.0.0.1 that holds every answer until the test lets go: its URL, how
/// many requests arrived, and the switch that lets them go.
async fn holding_receiver() -> (String, Arc<AtomicUsize>, tokio::sync::watch::Sender<bool>) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let count = arrived.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let count = count.clone();
            let mut released = released.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = released.wait_for(|go| *go).await;
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), arrived, release)
}

#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_deliveries_to_others() {
    let (slow, arrived, release) = holding_receiver().await;
    let (fast, fast_hits) = counting_receiver().await;
    let fast = format!("http://127.0.0.1:{fast}/hook");
    let s = TestServer::start_with(Setup::at(t0()).allow_egress(LOCAL_RECEIVERS)).await;
    let t = s.token().await;
    // Three deliveries to the slow receiver, queued before the one to the other receiver.
    s.create(
        "/api/v1/rules",
        &t,
        webhook_rule("Tell", &[&slow, &slow, &slow, &fast]),
    )
    .await;
    message(&s, &t, "slow-1").await;

    // Two reach the slow receiver, which holds them; the other receiver gets its delivery
    // meanwhile.
    eventually(
        WITHIN,
        "two deliveries held by the slow receiver",
        || async { (arrived.load(Ordering::SeqCst) == 2).then_some(()) },
    )
    .await;
    let d = eventually(WITHIN, "the other receiver's delivery", || async {
        let d = deliveries(&s, &t).await;
        (d.len() == 4 && d[3]["status"] == "delivered").then_some(d)
    })
    .await;
    assert_eq!(fast_hits.load(Ordering::SeqCst), 1);
    for slow in &d[..3] {
        assert_eq!(slow["status"], "pending", "{slow}");
        assert_eq!(slow["attempts"], 0, "still in flight or waiting: {slow}");
    }
    assert_eq!(
        arrived.load(Ordering::SeqCst),
        2,
        "at most {} in flight to one receiver",
        promptly_server::outbox::PER_RECEIVER
    );

    // Let go: the held ones finish and the third follows (the clock has not moved: a
    // delivery that ends makes room at once).
    release.send_replace(true);
    eventually(WITHIN, "every delivery made", || async {
        let d = deliveries(&s, &t).await;
        d.iter().all(|d| d["status"] == "delivered").then_some(())
    })
    .await;
    assert_eq!(arrived.load(Ordering::SeqCst), 3);
}

/// Runs `promptly serve` with these extra variables until it exits (a bound on failing):
/// its exit code and standard error.
async fn serve_exit(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("promptly.db").display());
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_promptly"));
    command
        .arg("serve")
        .env("PROMPTLY_DATABASE_URL", &db)
        .env(
            "PROMPTLY_ADDR",
            format!("127.0.0.1:{}", support::free_port()),
        )
        .env("PROMPTLY_LOG", "warn")
        .env("PROMPTLY_ADMIN_PASSWORD", "exit-password-1")
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(WITHIN, command.output())
        .await
        .expect("promptly serve exits on bad settings")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn bad_egress_settings_stop_the_server_with_code_2() {
    let (code, err) = serve_exit(&[("PROMPTLY_EGRESS_ALLOW", "127.0.0.1/32,10.0.0.0/33")]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`10.0.0.0/33` is not a CIDR range"), "{err}");
    let (code, err) = serve_exit(&[("PROMPTLY_EGRESS_ALLOW", "https://hooks.internal")]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is not a host name"), "{err}");
    let (code, err) = serve_exit(&[("PROMPTLY_EGRESS_CA_FILE", "/nonexistent/ca.pem")]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot read /nonexistent/ca.pem"), "{err}");
    let not_pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_pem.path(), "not a certificate").unwrap();
    let (code, err) =
        serve_exit(&[("PROMPTLY_EGRESS_CA_FILE", not_pem.path().to_str().unwrap())]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("holds no PEM certificate"), "{err}");
}
