//! Headers every response carries, and the reference page's own.

use reqwest::Method;

use crate::helpers::*;

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("visible ASCII").to_string())
}

#[tokio::test]
async fn every_response_says_nosniff_whatever_its_status_or_kind() {
    let app = TestApp::with_site(site_with(
        vec![published("read-me", chrono::Utc::now())],
        vec![],
    ))
    .await;
    let url = |path: &str| format!("{}{path}", app.address);
    let requests = [
        app.client.get(url("/v1/articles")),
        app.client.get(url("/v1/articles/read-me")),
        app.client.get(url("/v1/rankings/popular")),
        app.client.get(url("/no/such/path")),
        app.client.get(url("/v1/articles?limit=0")),
        app.client.delete(url("/v1/articles/read-me")),
        app.client.request(Method::PUT, url("/v1/tags")),
        app.client.post(url("/v1/articles/read-me/views")),
        app.client.head(url("/v1/articles")),
        app.client.get(url("/healthz")),
        app.client.get(url("/openapi.json")),
        app.client.get(url("/docs")),
        app.client.get(url("/docs/")),
        app.client.get(url("/docs/swagger-ui-bundle.js")),
        app.client.get(url("/docs/nope.js")),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(
            header(&response, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{} answered {}",
            response.url(),
            response.status()
        );
    }
}

#[tokio::test]
async fn the_reference_page_may_not_be_framed_sends_no_referrer_and_loads_only_its_own_files() {
    let app = TestApp::spawn().await;
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(
        header(&page, "referrer-policy").as_deref(),
        Some("no-referrer")
    );
    let policy = header(&page, "content-security-policy").expect("a CSP");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    let html = page.text().await.unwrap();
    // 'self' scripts only: the page must have no inline script, and every
    // file it names must be served from here.
    let mut named = Vec::new();
    for (n, part) in html.split("<script").enumerate().skip(1) {
        let tag = part.split('>').next().unwrap_or_default();
        assert!(tag.contains("src="), "inline script {n} in {html}");
    }
    for attribute in ["src=\"", "href=\""] {
        for part in html.split(attribute).skip(1) {
            named.push(part.split('"').next().unwrap().to_string());
        }
    }
    assert!(named.len() >= 5, "{named:?}");
    for file in named {
        assert!(!file.contains("//"), "{file} is not on this server");
        let path = format!("/docs/{}", file.trim_start_matches("./"));
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            header(&response, "content-security-policy").is_some(),
            "{path}"
        );
    }
    let initializer = app.get("/docs/swagger-initializer.js").await;
    let script = initializer.text().await.unwrap();
    assert!(!script.contains("http"), "the page calls out: {script}");
}

#[tokio::test]
async fn a_file_the_reference_does_not_have_is_a_404_problem() {
    let app = TestApp::spawn().await;
    for path in ["/docs/nope.js", "/docs/a/b/c"] {
        let response = app.get(path).await;
        assert_eq!(
            header(&response, "x-frame-options").as_deref(),
            Some("DENY")
        );
        let problem = assert_problem(response, 404).await;
        assert_eq!(problem["type"], "/problems/not-found");
        assert!(
            problem["detail"].as_str().unwrap().contains(path),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn the_api_itself_is_not_given_the_reference_page_headers() {
    let app = TestApp::spawn().await;
    for path in ["/v1/articles", "/docsx", "/openapi.json"] {
        let response = app.get(path).await;
        assert!(
            header(&response, "content-security-policy").is_none(),
            "{path}"
        );
    }
}
