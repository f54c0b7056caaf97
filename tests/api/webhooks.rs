//! Webhooks as an admin and a receiver see them: the admin API, and signed
//! deliveries to a real receiver on loopback that records what it gets and
//! can fail or stall on demand.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broadsheet::config::Config;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{assert_problem, Served, TestApp};

/// What the receiver does with a request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16),
    /// Holds the request without answering, past any client's timeout.
    Stall,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn event_id(&self) -> i64 {
        self.json()["id"].as_i64().expect("an event id")
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Replies for the next requests, in order; then 200.
    plan: VecDeque<Reply>,
    /// Whether every request past the plan fails with this status.
    always: Option<u16>,
    stalled: usize,
}

/// A webhook receiver on 127.0.0.1.
#[derive(Clone)]
struct Receiver {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Self {
            address: listener.local_addr().unwrap(),
            state: Arc::default(),
        };
        let state = receiver.state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, state.clone()));
            }
        });
        receiver
    }

    /// Its URL, with `host` naming 127.0.0.1.
    fn url_via(&self, host: &str) -> String {
        format!("http://{host}:{}/hook", self.address.port())
    }

    fn url(&self) -> String {
        self.url_via("127.0.0.1")
    }

    fn plan(&self, replies: &[Reply]) {
        self.state.lock().unwrap().plan.extend(replies);
    }

    fn fail_always(&self, status: Option<u16>) {
        self.state.lock().unwrap().always = status;
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    fn stalled(&self) -> usize {
        self.state.lock().unwrap().stalled
    }

    /// Waits until `done` holds of what was received, up to `seconds`.
    async fn wait_for(
        &self,
        seconds: u64,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "receiver: {what} did not happen; got events {:?}",
                received.iter().map(Received::event_id).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buffer[head_end..head_end + length].to_vec();
    let reply = {
        let mut state = state.lock().unwrap();
        state.received.push(Received { headers, body });
        let reply = state
            .plan
            .pop_front()
            .unwrap_or(Reply::Status(state.always.unwrap_or(200)));
        if let Reply::Stall = reply {
            state.stalled += 1;
        }
        reply
    };
    match reply {
        Reply::Stall => {
            tokio::time::sleep(Duration::from_secs(120)).await;
        }
        Reply::Status(status) => {
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    }
}

/// Delivery settings small enough for tests, private targets allowed.
fn quick(config: &mut Config) {
    config.webhooks.allow_private_targets = true;
    config.webhooks.poll = Duration::from_millis(50);
    config.webhooks.retry_base = Duration::from_millis(50);
    config.webhooks.retry_max = Duration::from_millis(200);
    config.webhooks.timeout = Duration::from_millis(1000);
    config.webhooks.connect_timeout = Duration::from_millis(1000);
}

async fn create_webhook(app: &TestApp, admin: &str, body: Value) -> Value {
    let response = app
        .with_key(Method::POST, "/v1/webhooks", admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

/// Makes a public event: a new outlet.
async fn add_outlet(address: &str, key: &str, slug: &str) {
    let response = reqwest::Client::new()
        .post(format!("{address}/v1/outlets"))
        .bearer_auth(key)
        .json(&json!({"slug": slug, "name": slug, "home_url": "https://example.org/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

async fn get_json(app: &TestApp, path: &str, key: &str) -> Value {
    let response = app.with_key(Method::GET, path, key).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn deliveries(app: &TestApp, id: i64, key: &str) -> Vec<Value> {
    let page = get_json(app, &format!("/v1/webhooks/{id}/deliveries?limit=100"), key).await;
    page["data"].as_array().unwrap().clone()
}

/// Waits until the webhook's deliveries satisfy `done`.
async fn wait_for_deliveries(
    app: &TestApp,
    id: i64,
    key: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = deliveries(app, id, key).await;
        if done(&listed) {
            return listed;
        }
        assert!(Instant::now() < deadline, "deliveries: {listed:#?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// The ids of events first seen, in order of first arrival.
fn first_arrivals(received: &[Received]) -> Vec<i64> {
    let mut seen = Vec::new();
    for id in received.iter().map(Received::event_id) {
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen
}

#[tokio::test]
async fn admins_create_read_update_and_delete_webhooks() {
    let app = TestApp::spawn_configured(quick).await;
    let admin = app.key("admin").await;
    let created = create_webhook(
        &app,
        &admin,
        json!({"url": "https://hooks.example.org/in", "event_types": ["article.published"]}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().expect("the secret, shown once");
    assert_eq!(secret.len(), 43, "32 bytes, base64url");
    assert_eq!(created["secret_hint"], secret[secret.len() - 4..]);
    assert_eq!(created["status"], "active");
    assert_eq!(created["audience"], "public");
    assert_eq!(
        created["deliveries_url"],
        format!("/v1/webhooks/{id}/deliveries")
    );

    let found = get_json(&app, &format!("/v1/webhooks/{id}"), &admin).await;
    assert!(found.get("secret").is_none(), "{found}");
    assert_eq!(found["event_types"], json!(["article.published"]));
    let listed = get_json(&app, "/v1/webhooks", &admin).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(listed["data"][0].get("secret").is_none());

    let patched = app
        .with_key(Method::PATCH, &format!("/v1/webhooks/{id}"), &admin)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"event_types": null, "active": false, "audience": "editor"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["event_types"], json!([]));
    assert_eq!(patched["status"], "paused");
    assert_eq!(patched["audience"], "editor");
    assert!(patched.get("secret").is_none());

    let refused = app
        .with_key(Method::PATCH, &format!("/v1/webhooks/{id}"), &admin)
        .json(&json!({"url": "hooks.example.org", "secret": null, "event_types": ["nope"]}))
        .send()
        .await
        .unwrap();
    assert_problem(refused, 422).await;
    let unchanged = get_json(&app, &format!("/v1/webhooks/{id}"), &admin).await;
    assert_eq!(unchanged["url"], "https://hooks.example.org/in");

    let new_secret = app
        .with_key(Method::PATCH, &format!("/v1/webhooks/{id}"), &admin)
        .json(&json!({"secret": "a-new-secret-that-is-long-enough"}))
        .send()
        .await
        .unwrap();
    let new_secret: Value = new_secret.json().await.unwrap();
    assert_eq!(new_secret["secret"], "a-new-secret-that-is-long-enough");
    assert_eq!(new_secret["secret_hint"], "ough");

    let deleted = app
        .with_key(Method::DELETE, &format!("/v1/webhooks/{id}"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(
        app.with_key(Method::GET, &format!("/v1/webhooks/{id}"), &admin)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

#[tokio::test]
async fn webhooks_are_for_admins_only() {
    let app = TestApp::spawn_configured(quick).await;
    let editor = app.key("editor").await;
    for (method, path) in [
        (Method::GET, "/v1/webhooks"),
        (Method::POST, "/v1/webhooks"),
        (Method::GET, "/v1/webhooks/1"),
        (Method::PATCH, "/v1/webhooks/1"),
        (Method::DELETE, "/v1/webhooks/1"),
        (Method::GET, "/v1/webhooks/1/deliveries"),
        (Method::POST, "/v1/webhooks/1/deliveries/1/redeliver"),
    ] {
        let body = json!({"url": "https://hooks.example.org/"});
        let as_editor = app
            .with_key(method.clone(), path, &editor)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(as_editor, 403).await;
        let anonymous = app
            .client
            .request(method, format!("{}{path}", app.address))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, 401).await;
    }
}

#[tokio::test]
async fn a_bad_webhook_is_refused_with_every_problem_named() {
    let app = TestApp::spawn_configured(quick).await;
    let admin = app.key("admin").await;
    let response = app
        .with_key(Method::POST, "/v1/webhooks", &admin)
        .json(&json!({
            "url": "ftp://hooks.example.org/",
            "event_types": ["article.published", "article.eaten"],
            "secret": "too-short",
            "audience": "everyone",
        }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422).await;
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for pointer in ["/url", "/event_types/1", "/secret", "/audience"] {
        assert!(pointers.contains(&pointer), "{pointer} in {problem}");
    }
    let with_user = app
        .with_key(Method::POST, "/v1/webhooks", &admin)
        .json(&json!({"url": "https://me:pw@hooks.example.org/"}))
        .send()
        .await
        .unwrap();
    assert_problem(with_user, 422).await;
    let listed = get_json(&app, "/v1/webhooks", &admin).await;
    assert_eq!(listed["data"], json!([]));
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let app = TestApp::spawn_configured(|config| {
        config.webhooks.poll = Duration::from_millis(50);
    })
    .await;
    let admin = app.key("admin").await;
    let receiver = Receiver::start().await;
    for url in [
        receiver.url(),
        "http://[::1]/".into(),
        "http://10.0.0.7/".into(),
        "http://169.254.169.254/".into(),
    ] {
        let refused = app
            .with_key(Method::POST, "/v1/webhooks", &admin)
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(refused, 422).await;
        assert_eq!(problem["errors"][0]["pointer"], "/url", "{url}");
    }
    // A name that resolves inward passes the create and is refused when
    // delivery connects.
    let created = create_webhook(&app, &admin, json!({"url": receiver.url_via("localhost")})).await;
    let id = created["id"].as_i64().unwrap();
    add_outlet(&app.address, &admin, "inward").await;
    let listed = wait_for_deliveries(&app, id, &admin, |d| !d.is_empty()).await;
    assert_eq!(listed[0]["outcome"], "failed");
    assert_eq!(listed[0]["error"], "refused private address");
    assert_eq!(listed[0]["status_code"], Value::Null);
    let webhook = get_json(&app, &format!("/v1/webhooks/{id}"), &admin).await;
    assert_eq!(webhook["last_error"], "refused private address");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn deliveries_are_signed_and_carry_every_header() {
    let app = TestApp::spawn_configured(quick).await;
    let admin = app.key("admin").await;
    let receiver = Receiver::start().await;
    let secret = "whsec-for-the-signing-test-0123";
    let created = create_webhook(
        &app,
        &admin,
        json!({"url": receiver.url(), "secret": secret}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    add_outlet(&app.address, &admin, "signed").await;
    let received = receiver.wait_for(20, "a delivery", |r| !r.is_empty()).await;
    let delivery = &received[0];
    let event = delivery.json();
    assert_eq!(event["type"], "outlet.created");
    assert_eq!(event["slug"], "signed");
    assert_eq!(delivery.headers["content-type"], "application/json");
    assert!(delivery.headers["user-agent"].starts_with("Broadsheet-Webhooks/"));
    assert_eq!(
        delivery.headers["broadsheet-event-id"],
        event["id"].to_string()
    );
    assert_eq!(delivery.headers["broadsheet-event-type"], "outlet.created");

    // The receiver's check, step by step.
    let signature = &delivery.headers["broadsheet-signature"];
    let (t, v1) = signature
        .split_once(',')
        .map(|(t, v1)| {
            (
                t.strip_prefix("t=").unwrap(),
                v1.strip_prefix("v1=").unwrap(),
            )
        })
        .unwrap();
    let sent_at: i64 = t.parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&delivery.body);
    let expected: Vec<u8> = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v1[i..i + 2], 16).unwrap())
        .collect();
    mac.verify_slice(&expected).expect("the signature verifies");
    let mut forged = Hmac::<Sha256>::new_from_slice(b"another-secret-entirely-000").unwrap();
    forged.update(format!("{t}.").as_bytes());
    forged.update(&delivery.body);
    assert!(forged.verify_slice(&expected).is_err());

    let listed = wait_for_deliveries(&app, id, &admin, |d| !d.is_empty()).await;
    assert_eq!(listed[0]["outcome"], "succeeded");
    assert_eq!(listed[0]["status_code"], 200);
    assert_eq!(listed[0]["attempt"], 1);
    assert_eq!(listed[0]["redelivery"], false);
    assert_eq!(
        delivery.headers["broadsheet-delivery-id"],
        listed[0]["id"].to_string()
    );
    let webhook = get_json(&app, &format!("/v1/webhooks/{id}"), &admin).await;
    assert_eq!(webhook["last_delivered_event_id"], event["id"]);
}

#[tokio::test]
async fn event_types_and_the_audience_decide_what_is_delivered() {
    let app = TestApp::spawn_configured(quick).await;
    let admin = app.key("admin").await;
    let public = Receiver::start().await;
    let editor = Receiver::start().await;
    let outlets_only = Receiver::start().await;
    create_webhook(&app, &admin, json!({"url": public.url()})).await;
    create_webhook(
        &app,
        &admin,
        json!({"url": editor.url(), "audience": "editor"}),
    )
    .await;
    create_webhook(
        &app,
        &admin,
        json!({"url": outlets_only.url(), "audience": "editor", "event_types": ["outlet.created"]}),
    )
    .await;

    let draft = app
        .with_key(Method::POST, "/v1/articles", &admin)
        .json(&json!({"slug": "quiet-draft", "title": "A draft"}))
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), 201);
    let edit = app
        .with_key(Method::PATCH, "/v1/articles/quiet-draft", &admin)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"title": "A draft, edited"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);
    add_outlet(&app.address, &admin, "marker").await;

    let types = |received: &[Received]| -> Vec<String> {
        received
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_string())
            .collect()
    };
    let seen = editor.wait_for(20, "three events", |r| r.len() >= 3).await;
    assert_eq!(
        types(&seen),
        ["article.created", "article.updated", "outlet.created"]
    );
    let seen = public.wait_for(20, "the outlet", |r| !r.is_empty()).await;
    // Events are in order, so once the outlet is in, the draft's were passed over.
    assert_eq!(types(&seen), ["outlet.created"]);
    let seen = outlets_only
        .wait_for(20, "the outlet", |r| !r.is_empty())
        .await;
    assert_eq!(types(&seen), ["outlet.created"]);
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff_in_order() {
    let app = TestApp::spawn_configured(quick).await;
    let admin = app.key("admin").await;
    let receiver = Receiver::start().await;
    receiver.plan(&[
        Reply::Status(500),
        Reply::Status(503),
        Reply::Stall,
        Reply::Status(500),
    ]);
    let created = create_webhook(&app, &admin, json!({"url": receiver.url()})).await;
    let id = created["id"].as_i64().unwrap();
    for slug in ["first", "second", "third"] {
        add_outlet(&app.address, &admin, slug).await;
    }
    let received = receiver
        .wait_for(30, "three events delivered", |r| r.len() >= 7)
        .await;
    let ids: Vec<i64> = received.iter().map(Received::event_id).collect();
    let first = ids[0];
    assert_eq!(
        ids,
        [first, first, first, first, first, first + 1, first + 2]
    );

    let listed = wait_for_deliveries(&app, id, &admin, |d| d.len() >= 7).await;
    let oldest_first: Vec<&Value> = listed.iter().rev().collect();
    let attempts: Vec<i64> = oldest_first
        .iter()
        .map(|d| d["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5, 1, 1]);
    let errors: Vec<&Value> = oldest_first.iter().map(|d| &d["error"]).collect();
    assert_eq!(
        errors,
        [
            &json!("answered 500"),
            &json!("answered 503"),
            &json!("timeout"),
            &json!("answered 500"),
            &Value::Null,
            &Value::Null,
            &Value::Null
        ]
    );
    assert_eq!(oldest_first[0]["status_code"], 500);
    assert_eq!(oldest_first[2]["status_code"], Value::Null);
    assert_eq!(oldest_first[4]["outcome"], "succeeded");
    let webhook = get_json(&app, &format!("/v1/webhooks/{id}"), &admin).await;
    assert_eq!(webhook["status"], "active");
    assert_eq!(webhook["failing_since"], Value::Null);
    assert_eq!(webhook["last_delivered_event_id"], first + 2);
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_gives_up_and_resumes_without_loss() {
    let app = TestApp::spawn_configured(|config| {
        quick(config);
        config.webhooks.give_up_after = Duration::from_millis(400);
    })
    .await;
    let admin = app.key("admin").await;
    let receiver = Receiver::start().await;
    receiver.fail_always(Some(503));
    let created = create_webhook(&app, &admin, json!({"url": receiver.url()})).await;
    let id = created["id"].as_i64().unwrap();
    add_outlet(&app.address, &admin, "held").await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let failing = loop {
        let webhook = get_json(&app, &format!("/v1/webhooks/{id}"), &admin).await;
        if webhook["status"] == "failing" {
            break webhook;
        }
        assert!(Instant::now() < deadline, "{webhook}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failing["active"], false);
    assert_eq!(failing["last_error"], "answered 503");
    assert!(failing["failing_since"].is_string());
    let listed = deliveries(&app, id, &admin).await;
    assert_eq!(listed[0]["outcome"], "given_up");
    assert!(listed.len() >= 2);
    let held = listed[0]["event_id"].as_i64().unwrap();
    // Nothing more is tried while it is failing, and what happens meanwhile waits.
    add_outlet(&app.address, &admin, "meanwhile").await;
    let tried = receiver.received().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), tried);

    receiver.fail_always(None);
    let resumed = app
        .with_key(Method::PATCH, &format!("/v1/webhooks/{id}"), &admin)
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    let resumed: Value = resumed.json().await.unwrap();
    assert_eq!(resumed["status"], "active");
    assert_eq!(resumed["failing_since"], Value::Null);
    let received = receiver
        .wait_for(20, "the held event and the next", |r| {
            r.iter().filter(|d| d.event_id() == held + 1).count() == 1
        })
        .await;
    let after: Vec<i64> = received[tried..].iter().map(Received::event_id).collect();
    assert_eq!(after, [held, held + 1]);
    // The receiver answers before the attempt is recorded.
    let listed = wait_for_deliveries(&app, id, &admin, |d| {
        d.iter().filter(|d| d["outcome"] == "succeeded").count() == 2
    })
    .await;
    assert_eq!(listed[1]["event_id"], held);
    assert_eq!(
        listed[1]["attempt"], 1,
        "attempts count afresh: {listed:#?}"
    );
    assert_eq!(listed[1]["outcome"], "succeeded");
}

#[tokio::test]
async fn an_admin_can_have_an_event_delivered_again() {
    let app = TestApp::spawn_configured(quick).await;
    let admin = app.key("admin").await;
    let receiver = Receiver::start().await;
    let created = create_webhook(&app, &admin, json!({"url": receiver.url()})).await;
    let id = created["id"].as_i64().unwrap();
    add_outlet(&app.address, &admin, "again").await;
    let listed = wait_for_deliveries(&app, id, &admin, |d| !d.is_empty()).await;
    let delivery = listed[0]["id"].as_i64().unwrap();
    let event = listed[0]["event_id"].as_i64().unwrap();

    let response = app
        .with_key(
            Method::POST,
            &format!("/v1/webhooks/{id}/deliveries/{delivery}/redeliver"),
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let received = receiver
        .wait_for(20, "the redelivery", |r| r.len() >= 2)
        .await;
    assert_eq!(received[1].event_id(), event);
    assert_ne!(
        received[1].headers["broadsheet-delivery-id"],
        received[0].headers["broadsheet-delivery-id"]
    );
    let listed = wait_for_deliveries(&app, id, &admin, |d| d.len() >= 2).await;
    assert_eq!(listed[0]["redelivery"], true);
    assert_eq!(listed[0]["event_id"], event);
    assert_eq!(listed[0]["outcome"], "succeeded");
    // The ordered stream is where it was.
    let webhook = get_json(&app, &format!("/v1/webhooks/{id}"), &admin).await;
    assert_eq!(webhook["last_delivered_event_id"], event);

    let unknown = app
        .with_key(
            Method::POST,
            &format!("/v1/webhooks/{id}/deliveries/999999/redeliver"),
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404).await;
}

#[tokio::test]
async fn deliveries_resume_in_order_after_an_instance_is_killed() {
    // The in-process server only holds the database; the binary delivers.
    let app = TestApp::spawn_configured(|config| {
        config.webhooks.poll = Duration::from_secs(3600);
    })
    .await;
    let admin = app.key("admin").await;
    let receiver = Receiver::start().await;
    // The fifth request stalls until the instance delivering it is killed.
    receiver.plan(&[
        Reply::Status(200),
        Reply::Status(200),
        Reply::Status(200),
        Reply::Status(200),
        Reply::Stall,
    ]);
    let env = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("BROADSHEET_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
        ("BROADSHEET_WEBHOOK_POLL_MS", "50"),
        ("BROADSHEET_WEBHOOK_RETRY_BASE_MS", "50"),
        ("BROADSHEET_WEBHOOK_TIMEOUT_MS", "1500"),
    ];
    let served = Served::start(&env).await;
    let created = reqwest::Client::new()
        .post(format!("{}/v1/webhooks", served.address))
        .bearer_auth(&admin)
        .json(&json!({"url": receiver.url()}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let mut slugs = Vec::new();
    for n in 0..20 {
        let slug = format!("outlet-{n}");
        add_outlet(&served.address, &admin, &slug).await;
        slugs.push(slug);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.stalled() == 0 {
        assert!(Instant::now() < deadline, "no delivery stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    served.signal("KILL");
    drop(served);

    let _restarted = Served::start(&env).await;
    let received = receiver
        .wait_for(60, "all 20 events", |r| {
            r.iter()
                .filter_map(|d| d.json()["slug"].as_str().map(String::from))
                .collect::<std::collections::HashSet<_>>()
                .len()
                == 20
        })
        .await;
    // The event in flight when the first instance died came again.
    let stalled = received[4].event_id();
    assert!(
        received.iter().filter(|d| d.event_id() == stalled).count() >= 2,
        "event {stalled} was delivered again"
    );
    let first = first_arrivals(&received);
    let mut sorted = first.clone();
    sorted.sort_unstable();
    assert_eq!(first, sorted, "first arrivals in event order");
    assert_eq!(first.len(), 20);
    assert_eq!(first[19] - first[0], 19, "no event skipped");
}
