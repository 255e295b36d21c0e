//! The API's OpenAPI document against the real server (port 0, every part
//! of `/api/v1` on): each documented route is answered by a handler, never
//! by the router's 404 or 405, with the token its `security` names; each
//! method the document does not give a path is the router's 405; and the
//! document is exactly the one the code describes (`full_document`), so a
//! route added without it is refused (see `src/api/openapi.rs`).

use serde_json::Value;

use super::support::{Server, http_call, http_get, http_get_with_headers, serve};

const TOKEN: &str = "openapi-ledger-token-0123456789abcdef0123";
const OPERATOR_TOKEN: &str = "openapi-operator-token-0123456789abcdef0";
const SECRET: &str = "openapi-callback-secret-0123456789abcdef";

/// Methods probed on every documented path.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

fn start(dir: &std::path::Path) -> Server {
    Server::start(&mut serve(
        dir,
        &[
            ("PAYBOT_MOCK__ENABLED", "false"),
            ("PAYBOT_API__TOKEN", TOKEN),
            ("PAYBOT_API__OPERATOR_TOKEN", OPERATOR_TOKEN),
            ("PAYBOT_TRUST__VERIFICATION__SECRET", SECRET),
        ],
    ))
}

/// The document as the server answers it to `token`.
fn document(server: &Server, token: &str) -> Value {
    let (status, body) = http_get_with_headers(
        server.addr,
        "/api/v1/openapi.json",
        &[("Authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(status, 200, "{body}");
    json_body(&body)
}

/// `path` with each `{param}` filled in.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').unwrap() + open;
        out.push_str(&rest[..open]);
        out.push('1');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A biller registered on the server's database (`paybot admin
/// biller-add`): its token.
fn biller_token(dir: &std::path::Path) -> String {
    let mut cmd = super::support::paybot(dir);
    cmd.args([
        "admin",
        "biller-add",
        "--name",
        "Docs",
        "--handle",
        "docs",
        "--webhook-url",
        "http://127.0.0.1:9/hook",
    ]);
    let finished = super::support::run(&mut cmd);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    finished
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap()
        .to_owned()
}

/// The token an operation's `security` names (`None`: no token).
fn token_for<'a>(operation: &Value, biller: &'a str) -> Option<&'a str> {
    let schemes: Vec<&str> = operation["security"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s.as_object().unwrap().keys().map(String::as_str))
        .collect();
    if schemes.contains(&"ledger_token") {
        Some(TOKEN)
    } else if schemes.contains(&"operator_token") {
        Some(OPERATOR_TOKEN)
    } else if schemes.contains(&"biller_token") {
        Some(biller)
    } else {
        assert_eq!(schemes, ["verification_signature"], "{operation}");
        None
    }
}

fn call(server: &Server, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    let body = if matches!(method, "POST" | "PUT" | "PATCH") {
        "{}"
    } else {
        ""
    };
    let (status, text) = http_call(server.addr, method, path, &headers, body);
    (status, json_body(&text))
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn every_documented_route_is_served_and_every_served_route_is_documented() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let biller = biller_token(dir.path());

    // Behind the API's tokens, like the API: any ledger token or the
    // operator's reads it, and both read the same document.
    let (status, body) = http_get(server.addr, "/api/v1/openapi.json");
    assert_eq!(
        (status, code(&json_body(&body))),
        (401, "unauthorized"),
        "{body}"
    );
    let served = document(&server, TOKEN);
    assert_eq!(document(&server, OPERATOR_TOKEN), served);
    assert!(
        served["openapi"].as_str().unwrap().starts_with("3.1"),
        "{served}"
    );
    // Everything is on here, so the server serves the whole document.
    assert_eq!(served, paybot::api::full_document());

    let paths = served["paths"].as_object().unwrap();
    assert!(paths.len() >= 10, "{paths:?}");
    let mut refused = std::collections::HashSet::new();
    for (path, item) in paths {
        let url = concrete(path);
        let item = item.as_object().unwrap();
        for method in METHODS {
            let documented = item.get(&method.to_ascii_lowercase());
            match documented {
                Some(operation) => {
                    let token = token_for(operation, &biller);
                    // The token the document names is the one that works:
                    // a handler answers (not the router, not the guards).
                    let (status, body) = call(&server, method, &url, token);
                    assert!(
                        !matches!(
                            code(&body),
                            "no_such_route" | "method_not_allowed" | "unauthorized" | "forbidden"
                        ) && status != 405,
                        "{method} {url}: {status} {body}"
                    );
                    // Without it, refused: once per kind of security
                    // (wrong tokens are throttled after a few).
                    if refused.insert(operation["security"].to_string()) {
                        let (status, body) = call(&server, method, &url, None);
                        assert_eq!(status, 401, "{method} {url} without a token: {body}");
                    }
                }
                None => {
                    // A method the document does not give: the router's
                    // 405, with the token the path's routes name.
                    let token = item.values().next().and_then(|o| token_for(o, &biller));
                    let (status, body) = call(&server, method, &url, token);
                    assert_eq!(
                        (status, code(&body)),
                        (405, "method_not_allowed"),
                        "{method} {url}: {body}"
                    );
                }
            }
        }
    }

    // Paths next to the documented ones are the router's 404.
    for path in [
        "/api/v1/accounts/1/transfers",
        "/api/v1/admin",
        "/api/v1/admin/users/mock",
        "/api/v1/openapi.yaml",
        "/api/v1/verification",
    ] {
        let (status, body) = call(&server, "GET", path, Some(TOKEN));
        assert_eq!(
            (status, code(&body)),
            (404, "no_such_route"),
            "{path}: {body}"
        );
    }
    // No route was refused for missing from the document.
    assert!(
        !server.stderr().contains("not in the OpenAPI document"),
        "{}",
        server.stderr()
    );
}

#[test]
fn the_document_shows_only_what_this_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    // The ledger API alone: no operator token, no verification secret.
    let server = Server::start(&mut serve(
        dir.path(),
        &[
            ("PAYBOT_MOCK__ENABLED", "false"),
            ("PAYBOT_API__TOKEN", TOKEN),
        ],
    ));
    let served = document(&server, TOKEN);
    let mut paths: Vec<&str> = served["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/api/v1/accounts",
            "/api/v1/accounts/{id}",
            // A biller's routes are always on: each biller's token is in
            // the database.
            "/api/v1/billers/me/invoices",
            "/api/v1/billers/me/invoices/{reference}",
            "/api/v1/billers/me/invoices/{reference}/cancel",
            "/api/v1/openapi.json",
            "/api/v1/transfers",
            "/api/v1/transfers/{id}",
        ]
    );
    // And what it leaves out is not served.
    let (status, body) = call(&server, "GET", "/api/v1/admin/holds", Some(TOKEN));
    assert_eq!((status, code(&body)), (404, "no_such_route"), "{body}");
    let (status, body) = call(&server, "POST", "/api/v1/verification/callback", None);
    assert_eq!((status, code(&body)), (404, "no_such_route"), "{body}");
}
