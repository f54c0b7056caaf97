//! The OpenAPI document is the contract: the checked-in copy must match the
//! code, the server must serve it, and the reference page must work offline.

use serde_json::Value;

use crate::helpers::TestApp;

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

#[test]
fn the_checked_in_document_matches_the_code() {
    let generated = broadsheet::openapi::document_json();
    if std::env::var_os("BROADSHEET_UPDATE_OPENAPI").is_some() {
        std::fs::write(CHECKED_IN, &generated).expect("write openapi/openapi.json");
    }
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        checked_in == generated,
        "openapi/openapi.json differs from the code; regenerate it with \
         `cargo run -- openapi > openapi/openapi.json` and review the diff"
    );
}

#[tokio::test]
async fn the_served_document_is_the_checked_in_one() {
    let app = TestApp::spawn().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.unwrap();
    let checked_in: Value =
        serde_json::from_str(&std::fs::read_to_string(CHECKED_IN).unwrap()).unwrap();
    assert_eq!(served, checked_in);
    assert_eq!(served["openapi"], "3.1.0");
}

#[test]
fn every_operation_is_documented_with_a_client_error_and_its_security() {
    let document: Value = serde_json::from_str(&broadsheet::openapi::document_json()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 11, "paths: {:?}", paths.keys());
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            assert!(
                operation["operationId"].is_string(),
                "{name} has no operationId"
            );
            assert!(operation["summary"].is_string(), "{name} has no summary");
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|status| status.starts_with('4') || status.starts_with('5')),
                "{name}"
            );
            for (status, response) in responses {
                assert!(
                    response["description"].is_string(),
                    "{name} {status} has no description"
                );
            }
            let schemes = operation["security"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if method == "get" || path.ends_with("/views") {
                // Reads and the view beacon are public and marked so (no lock in
                // the reference page), except the editors' own reads (revisions)
                // and the admins' (webhooks).
                if !path.ends_with("/revisions") && !path.starts_with("/v1/webhooks") {
                    assert_eq!(schemes, [serde_json::json!({})], "{name} is public");
                }
            } else {
                assert_eq!(
                    schemes,
                    [serde_json::json!({"api_key": []})],
                    "{name} needs a key"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_reference_page_is_served_with_its_assets() {
    let app = TestApp::spawn().await;
    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/docs/");
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        html.contains("<title>Broadsheet API reference</title>"),
        "{html}"
    );
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("https://unpkg.com"),
            "{asset} loads from a CDN"
        );
    }
    let initializer = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/docs/openapi.json"), "{initializer}");
}

#[tokio::test]
async fn the_index_links_to_every_entry_point_and_each_answers() {
    let app = TestApp::spawn().await;
    let (status, index) = app.get_json("/").await;
    assert_eq!(status, 200);
    assert_eq!(index["name"], "Broadsheet");
    assert_eq!(index["docs_url"], "/docs/");
    assert_eq!(index["openapi_url"], "/openapi.json");
    let document: Value = serde_json::from_str(&broadsheet::openapi::document_json()).unwrap();
    let links = index["links"].as_array().unwrap();
    assert!(links.len() >= 8, "{links:?}");
    for link in links {
        let href = link["href"].as_str().unwrap();
        assert!(
            href == "/openapi.json" || document["paths"][href]["get"].is_object(),
            "{href} is not an operation of the document"
        );
        // Search answers only with something to search for.
        let probe = match href {
            "/v1/search" => "/v1/search?q=news",
            _ => href,
        };
        assert_eq!(app.get(probe).await.status(), 200, "{href}");
    }
    assert_eq!(
        app.get(index["docs_url"].as_str().unwrap()).await.status(),
        200
    );
}

#[tokio::test]
async fn the_index_refuses_parameters_it_does_not_take() {
    let app = TestApp::spawn().await;
    crate::helpers::assert_invalid_parameter(&app, "/?limt=5", "limt").await;
}

fn checked_in() -> Value {
    serde_json::from_str(&std::fs::read_to_string(CHECKED_IN).unwrap()).unwrap()
}

#[test]
fn the_document_names_its_server_relative_to_where_it_is_read() {
    assert_eq!(checked_in()["servers"], serde_json::json!([{"url": "/"}]));
}

#[tokio::test]
async fn a_configured_public_url_is_the_served_documents_server() {
    let app = TestApp::spawn_configured(|config| {
        config.public_url = Some("https://news.example.org/api".into());
    })
    .await;
    let served: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(
        served["servers"],
        serde_json::json!([{"url": "https://news.example.org/api"}])
    );
}

/// Every parameter of `method path`, references to shared ones resolved.
fn parameters<'a>(document: &'a Value, method: &str, path: &str) -> Vec<&'a Value> {
    document["paths"][path][method]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|parameter| match parameter["$ref"].as_str() {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap();
                &document["components"]["parameters"][name]
            }
            None => parameter,
        })
        .collect()
}

fn schema_of<'a>(document: &'a Value, parameter: &'a Value) -> &'a Value {
    match parameter["schema"]["$ref"].as_str() {
        Some(reference) => {
            &document["components"]["schemas"][reference.rsplit('/').next().unwrap()]
        }
        None => &parameter["schema"],
    }
}

#[test]
fn slugs_and_ids_carry_the_pattern_and_bounds_the_server_enforces() {
    let document = checked_in();
    let slug = &document["components"]["schemas"]["Slug"];
    assert_eq!(slug["pattern"], broadsheet::validate::SLUG_PATTERN);
    assert_eq!(slug["maxLength"], broadsheet::validate::SLUG_MAX);
    assert_eq!(slug["minLength"], 1);
    for (method, path, name) in [
        ("get", "/v1/articles/{slug}", "slug"),
        ("patch", "/v1/outlets/{slug}", "slug"),
        ("get", "/v1/articles", "tag"),
        ("get", "/v1/excerpts", "outlet"),
        ("get", "/v1/roundup-links", "article"),
    ] {
        let parameters = parameters(&document, method, path);
        let parameter = parameters.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(
            schema_of(&document, parameter),
            slug,
            "{method} {path} {name}"
        );
    }
    let parameters = parameters(&document, "delete", "/v1/excerpts/{id}");
    let id = schema_of(&document, parameters[0]);
    assert_eq!(
        (id["minimum"].as_i64(), id["maximum"].as_i64()),
        (Some(1), Some(i64::MAX))
    );
}

#[test]
fn every_parameter_states_a_bound_a_pattern_a_format_or_its_values() {
    let document = checked_in();
    // Headers whose every value is taken (an ETag list, a date the server
    // ignores when it cannot read it) need no bound.
    let free = ["If-Match", "If-None-Match", "If-Modified-Since"];
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            for parameter in parameters(&document, method, path) {
                let name = parameter["name"].as_str().unwrap();
                if free.contains(&name) {
                    continue;
                }
                let schema = schema_of(&document, parameter);
                let stated = ["pattern", "maximum", "enum", "anyOf", "$ref"]
                    .iter()
                    .any(|key| !schema[key].is_null());
                assert!(stated, "{method} {path} {name}: {schema}");
            }
        }
    }
}

#[test]
fn writes_that_answer_412_take_if_match_and_creates_take_an_idempotency_key() {
    let document = checked_in();
    let names = |method, path| -> Vec<String> {
        parameters(&document, method, path)
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("patch", "/v1/articles/{slug}").contains(&"If-Match".into()));
    assert!(names("post", "/v1/articles").contains(&"Idempotency-Key".into()));
    assert!(!names("post", "/v1/articles").contains(&"If-Match".into()));
}

#[test]
fn every_component_is_used_and_only_the_probes_lack_a_client_error() {
    let document = checked_in();
    let text = document.to_string();
    for kind in ["schemas", "parameters", "headers"] {
        for name in document["components"][kind].as_object().unwrap().keys() {
            let reference = format!("\"#/components/{kind}/{name}\"");
            assert!(text.contains(&reference), "{kind}/{name} is unused");
        }
    }
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let client_error = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .any(|status| status.starts_with('4'));
            let probe = path == "/healthz" || path == "/readyz";
            assert_eq!(client_error, !probe, "{method} {path}");
        }
    }
}

#[test]
fn a_date_only_timestamp_is_allowed_as_the_server_takes_it() {
    let document = checked_in();
    let timestamp = &document["components"]["schemas"]["Timestamp"];
    let formats: Vec<&str> = timestamp["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|schema| schema["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["date-time", "date"]);
}

#[tokio::test]
async fn every_member_that_fields_may_name_is_one_the_server_takes() {
    let app = TestApp::spawn().await;
    let document = checked_in();
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        let Some(operation) = item.get("get") else {
            continue;
        };
        let Some(fields) = parameters(&document, "get", path)
            .into_iter()
            .find(|parameter| parameter["name"] == "fields")
        else {
            continue;
        };
        let pattern = fields["schema"]["pattern"].as_str().unwrap();
        // `^(a|b)(,(a|b))*$`: the alternatives of the first group.
        let members = pattern[2..pattern.find(')').unwrap()].replace('|', ",");
        let target = path.replace("{slug}", "a-slug").replace("{id}", "1");
        let search = if path == "/v1/search" { "q=word&" } else { "" };
        for (fields, refused) in [(members.as_str(), false), ("no_such_member", true)] {
            let response = app.get(&format!("{target}?{search}fields={fields}")).await;
            assert_eq!(
                response.status() == 400,
                refused,
                "{} {path} fields={fields}",
                operation["operationId"]
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "{checked} operations take `fields`");
}
