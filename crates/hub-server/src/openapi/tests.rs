use std::collections::BTreeSet;

use serde_json::Value;
use utoipa::OpenApi;

use super::ApiDoc;
use super::answers::OPERATIONS;
use crate::problem::ProblemCode;

fn doc() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap()
}

/// Every operation of the document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[test]
fn operation_ids_are_unique_and_each_has_its_answers() {
    let doc = doc();
    let mut seen = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(seen.insert(id.to_owned()), "operationId {id} is used twice");
        assert!(
            OPERATIONS.iter().any(|(known, _)| *known == id),
            "{method} {path} ({id}) is missing from openapi::answers::OPERATIONS"
        );
    }
    let table: BTreeSet<String> = OPERATIONS.iter().map(|(id, _)| (*id).to_owned()).collect();
    assert_eq!(
        seen, table,
        "the answers table names operations the document does not have"
    );
}

#[test]
fn every_code_in_the_table_is_one_the_hub_sends() {
    let known: BTreeSet<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
    for (id, groups) in OPERATIONS {
        for a in groups.iter().flat_map(|g| g.iter()) {
            assert!(known.contains(a.code), "{id}: unknown code {}", a.code);
            assert!(
                (400..600).contains(&a.status),
                "{id}: {} is not an error status",
                a.status
            );
        }
    }
}

/// The document's response for `status` of the operation `id`, which must be a problem
/// whose description names `code`.
fn assert_problem(doc: &Value, id: &str, status: u16, code: &str) {
    let (method, path, op) = operations(doc)
        .into_iter()
        .find(|(_, _, op)| op["operationId"] == id)
        .unwrap_or_else(|| panic!("no operation {id}"));
    let res = &op["responses"][status.to_string()];
    assert_eq!(
        res["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
        "{method} {path} ({id}) does not document {status} as a problem: {res}"
    );
    let description = res["description"].as_str().unwrap_or_default();
    assert!(
        description.contains(&format!("`{code}`")),
        "{method} {path} ({id}): {status} does not name {code}: {description}"
    );
    if ["rate_limited", "circuit_open", "overloaded"].contains(&code) {
        assert!(
            res["headers"]["Retry-After"].is_object(),
            "{method} {path} ({id}): {status} {code} without Retry-After"
        );
    }
}

#[test]
fn what_the_handlers_answer_is_documented() {
    let doc = doc();
    // Rules that follow from an operation's shape in the document.
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap();
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let has = |place: &str, name: Option<&str>| {
            params
                .iter()
                .any(|p| p["in"] == place && name.is_none_or(|n| p["name"].as_str() == Some(n)))
        };
        if op.get("security").is_some() {
            assert_problem(&doc, id, 401, "unauthorized");
            assert_problem(&doc, id, 403, "forbidden");
        }
        if has("path", None) {
            assert_problem(&doc, id, 400, "invalid_id");
        }
        if has("query", None) {
            assert_problem(&doc, id, 422, "invalid_body");
        }
        if method == "post" {
            assert_problem(&doc, id, 413, "payload_too_large");
            assert_problem(&doc, id, 408, "invalid_body");
            assert_problem(&doc, id, 422, "invalid_body");
        }
        if has("header", Some("Idempotency-Key")) {
            assert_problem(&doc, id, 409, "idempotency_in_flight");
            assert_problem(&doc, id, 422, "idempotency_mismatch");
            for (status, code) in [
                (404, "not_found"),
                (422, "upstream_rejected"),
                (429, "rate_limited"),
                (502, "upstream_unavailable"),
                (502, "upstream_answer_unreadable"),
                (503, "circuit_open"),
                (503, "store_unavailable"),
                (504, "upstream_timeout"),
            ] {
                assert_problem(&doc, id, status, code);
            }
        }
        if path.starts_with("/v1/") && !path.starts_with("/v1/events") {
            let documented: BTreeSet<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert!(
                documented
                    .iter()
                    .all(|s| s.len() == 3 && s.chars().all(|c| c.is_ascii_digit())),
                "{method} {path}: status ranges instead of statuses: {documented:?}"
            );
        }
    }
    // What particular handlers answer.
    for (id, status, code) in [
        ("commit_draft", 400, "idempotency_key_missing"),
        ("get_ticket", 429, "rate_limited"),
        ("get_transaction", 503, "circuit_open"),
        ("list_customer_transactions", 504, "upstream_timeout"),
        ("list_customer_transactions", 404, "not_found"),
        ("list_dlq_entries", 422, "invalid_body"),
        ("list_dlq_entries", 503, "store_unavailable"),
        ("list_audit_records", 503, "store_unavailable"),
        ("get_dlq_entry", 404, "not_found"),
        ("get_dlq_entry", 503, "store_unavailable"),
        ("replay_dlq_entry", 409, "dlq_conflict"),
        ("replay_dlq_entry", 502, "upstream_unavailable"),
        ("replay_dlq_entry", 429, "rate_limited"),
        ("discard_dlq_entry", 409, "dlq_conflict"),
        ("subscribe_to_events", 400, "invalid_id"),
        ("subscribe_to_events", 422, "invalid_body"),
        ("subscribe_to_events", 426, "invalid_body"),
        ("subscribe_to_events", 503, "overloaded"),
        ("receive_ticket_updated_webhook", 401, "unauthorized"),
        ("receive_transaction_updated_webhook", 503, "store_unavailable"),
    ] {
        assert_problem(&doc, id, status, code);
    }
}

proptest::proptest! {
    /// Every amount the document's pattern allows is one the hub takes: a positive exact
    /// decimal (schemathesis generates schema-valid drafts from this pattern).
    #[test]
    fn every_documented_amount_is_accepted(raw in proptest::string::string_regex(
        doc()["components"]["schemas"]["CreateDraftRequest"]["properties"]["amount"]["pattern"]
            .as_str()
            .unwrap()
            .trim_start_matches('^')
            .trim_end_matches('$'),
    ).unwrap()) {
        let amount: hub_core::Amount = raw.parse().unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        proptest::prop_assert!(amount.is_positive(), "{raw:?}");
        let from_json: hub_core::Amount = serde_json::from_value(serde_json::json!(raw)).unwrap();
        proptest::prop_assert_eq!(from_json, amount);
    }
}
