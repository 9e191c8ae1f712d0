//! docs/openapi.yaml against the router of src/server/mod.rs and a real
//! `steward serve`: the file is OpenAPI 3.1, every routed path and method
//! is documented, every documented one is routed, and each documented operation
//! reaches a handler rather than the router's fallback 404.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::{Project, serve, unindent};
use reqwest::{Method, StatusCode};
use yaml_rust2::{Yaml, YamlLoader};

/// The body of the router's fallback answer.
const FALLBACK: &str = "no such endpoint";
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn repo_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn openapi() -> Yaml {
    let text = repo_file("docs/openapi.yaml");
    let mut docs = YamlLoader::load_from_str(&text).expect("docs/openapi.yaml is YAML");
    assert_eq!(docs.len(), 1, "docs/openapi.yaml holds one document");
    docs.remove(0)
}

fn key<'a>(map: &'a Yaml, name: &str) -> &'a Yaml {
    &map[name]
}

/// Documented paths with their methods (lowercase).
fn documented(doc: &Yaml) -> BTreeMap<String, BTreeSet<String>> {
    let paths = key(doc, "paths").as_hash().expect("`paths` is a mapping");
    paths
        .iter()
        .map(|(path, item)| {
            let path = path.as_str().expect("a path is text").to_owned();
            let methods = item
                .as_hash()
                .unwrap_or_else(|| panic!("{path}: not a mapping"))
                .keys()
                .filter_map(Yaml::as_str)
                .filter(|k| METHODS.contains(k))
                .map(str::to_owned)
                .collect();
            (path, methods)
        })
        .collect()
}

/// The `.route("PATH", get(…).post(…))` calls of the router's source, as
/// paths with their methods.
fn routed(source: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut routes = BTreeMap::new();
    for chunk in source.split(".route(").skip(1) {
        let chunk = chunk.trim_start();
        let Some(rest) = chunk.strip_prefix('"') else {
            continue;
        };
        let (path, handlers) = rest.split_once('"').expect("a closing quote");
        // The handlers run to the next builder call that is not a method.
        let handlers = handlers
            .split(".fallback(")
            .next()
            .and_then(|h| h.split(".layer(").next())
            .unwrap_or(handlers);
        let methods: BTreeSet<String> = METHODS
            .iter()
            .filter(|m| {
                handlers.match_indices(&format!("{m}(")).any(|(at, _)| {
                    at == 0
                        || !handlers[..at]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                })
            })
            .map(|m| (*m).to_owned())
            .collect();
        assert!(
            !methods.is_empty(),
            "no method found for route {path}: {handlers}"
        );
        routes
            .entry(path.to_owned())
            .or_insert_with(BTreeSet::new)
            .extend(methods);
    }
    routes
}

#[test]
fn the_file_is_openapi_3_1_with_what_a_client_needs() {
    let doc = openapi();
    let version = key(&doc, "openapi").as_str().expect("`openapi` is text");
    assert!(version.starts_with("3.1."), "openapi: {version}");
    for required in ["info", "paths", "components"] {
        assert!(!key(&doc, required).is_badvalue(), "no `{required}`");
    }
    assert!(key(&doc, "info")["title"].as_str().is_some(), "info.title");
    assert!(
        key(&doc, "info")["version"].as_str().is_some(),
        "info.version"
    );

    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"].as_str(), Some("http"));
    assert_eq!(bearer["scheme"].as_str(), Some("bearer"));
    let global = doc["security"].as_vec().expect("a global `security`");
    assert!(
        global.iter().any(|s| !s["bearer"].is_badvalue()),
        "the API needs the bearer scheme by default"
    );
    for schema in ["Error", "Run", "RunDetail", "Step", "Approval", "Decision"] {
        assert!(
            doc["components"]["schemas"][schema].as_hash().is_some(),
            "components.schemas.{schema}"
        );
    }
    let error = &doc["components"]["schemas"]["Error"]["properties"];
    assert!(!error["error"].is_badvalue() && !error["problems"].is_badvalue());

    // Every operation says what it answers; those open to all say so.
    for (path, methods) in documented(&doc) {
        for method in methods {
            let op = &doc["paths"][path.as_str()][method.as_str()];
            let responses = op["responses"].as_hash();
            assert!(
                responses.is_some_and(|r| !r.is_empty()),
                "{method} {path}: no responses"
            );
            let open = op["security"].as_vec().is_some_and(Vec::is_empty);
            let public = !path.starts_with("/api/");
            assert_eq!(
                open, public,
                "{method} {path}: `security: []` iff not under /api/"
            );
        }
    }

    // Every internal reference resolves.
    let text = repo_file("docs/openapi.yaml");
    for reference in text.split("$ref: \"#/").skip(1) {
        let pointer = reference.split('"').next().unwrap_or_default();
        let target = pointer.split('/').fold(&doc, |node, part| &node[part]);
        assert!(!target.is_badvalue(), "dangling $ref #/{pointer}");
    }
}

#[test]
fn every_route_is_documented_and_every_documented_path_routed() {
    let doc = openapi();
    let documented = documented(&doc);
    let routed = routed(&repo_file("src/server/mod.rs"));
    assert!(
        routed.contains_key("/api/v1/runs") && routed.len() >= 10,
        "the router's routes were not found: {routed:?}"
    );
    let undocumented: Vec<_> = routed
        .iter()
        .filter(|(path, methods)| documented.get(*path) != Some(methods))
        .collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from docs/openapi.yaml (or with other methods): {undocumented:?}; documented: {documented:?}"
    );
    let unrouted: Vec<_> = documented
        .iter()
        .filter(|(path, methods)| routed.get(*path) != Some(methods))
        .collect();
    assert!(
        unrouted.is_empty(),
        "documented in docs/openapi.yaml but not routed in src/server/mod.rs: {unrouted:?}"
    );
}

#[test]
fn every_documented_operation_reaches_a_handler() {
    let p = Project::new();
    p.write(
        "steward.yaml",
        &unindent(
            r#"
            server:
              tokens:
                - name: ci
                  secret: CI_TOKEN
            "#,
        ),
    );
    p.runbook(
        "hello",
        &unindent(
            r#"
            steps:
              - id: greet
                shell: "true"
            "#,
        ),
    );
    let server = serve::Served::start(&p, &[("CI_TOKEN", "openapi-test-token")], &[]);

    // A wrong path does get the fallback, so the check below means something.
    let response = server
        .client
        .get(server.url("/api/v1/nothing-here"))
        .send()
        .expect("send");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().expect("body").contains(FALLBACK));

    let doc = openapi();
    let mut checked = 0;
    for (path, methods) in documented(&doc) {
        let concrete = path
            .replace("{id}", "01a20000-0000-7000-8000-000000000000")
            .replace("{step}", "gate")
            .replace("{name}", "not-a-hook");
        for method in methods {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let response = server
                .client
                .request(method.clone(), server.url(&concrete))
                .send()
                .unwrap_or_else(|e| panic!("{method} {concrete}: {e}"));
            let status = response.status();
            let body = response.text().expect("read the body");
            assert!(
                !(status == StatusCode::NOT_FOUND && body.contains(FALLBACK)),
                "{method} {concrete} (documented as {path}) is not routed: {status} {body}"
            );
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {concrete}: the path is routed but not for {method}"
            );
            if path.starts_with("/api/") {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {concrete} without a token: {body}"
                );
                assert!(body.contains("bearer token"), "{method} {concrete}: {body}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} operations checked");
}
