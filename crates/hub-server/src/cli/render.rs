//! Human-readable tables of the API's dead-letter JSON shapes.

use std::fmt::Write as _;

use serde_json::Value;

fn field(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn clip(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A page (`{"items": [...], "next_cursor": ...}`) as a table.
pub(crate) fn page(v: &Value) -> String {
    let items = v.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    if items.is_empty() {
        return "no dead-letter entries\n".to_owned();
    }
    let headers = ["ID", "STATUS", "ADAPTER", "OPERATION", "ATTEMPTS", "CREATED", "ERROR"];
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|e| {
            vec![
                field(e, "id"),
                field(e, "status"),
                field(e, "adapter"),
                field(e, "operation"),
                field(e, "attempts"),
                field(e, "created_at"),
                clip(&field(e, "error"), 60),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let last = cells.len().saturating_sub(1);
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                let _ = write!(out, "{cell}");
            } else {
                let _ = write!(out, "{cell:<w$}  ");
            }
        }
        out.push('\n');
    };
    line(&mut out, &headers.map(str::to_owned));
    for row in &rows {
        line(&mut out, row);
    }
    if let Some(cursor) = v.get("next_cursor").and_then(Value::as_str) {
        let _ = writeln!(out, "more: --cursor {cursor}");
    }
    out
}

/// One entry as `key: value` lines, the payload and result as indented JSON.
pub(crate) fn entry(v: &Value) -> String {
    let mut out = String::new();
    for key in [
        "id",
        "status",
        "adapter",
        "operation",
        "attempts",
        "created_at",
        "error_code",
        "error",
        "idempotency_key",
        "request_id",
        "conversation_id",
        "trace_id",
        "reason",
        "acted_by",
        "acted_at",
    ] {
        let _ = writeln!(out, "{:<16} {}", format!("{key}:"), field(v, key));
    }
    for key in ["payload", "result"] {
        if let Some(x) = v.get(key).filter(|x| !x.is_null()) {
            let pretty = serde_json::to_string_pretty(x).unwrap_or_else(|_| x.to_string());
            let _ = writeln!(out, "{key}:");
            for l in pretty.lines() {
                let _ = writeln!(out, "  {l}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        assert_eq!(
            page(&serde_json::json!({"items": [], "next_cursor": null})),
            "no dead-letter entries\n"
        );
        let p = page(
            &serde_json::json!({"items": [{"id": "a1", "status": "pending", "adapter": "ticketing",
            "operation": "create_ticket", "attempts": 3, "created_at": "t", "error": "boom"}], "next_cursor": "c"}),
        );
        assert!(p.starts_with("ID  STATUS   ADAPTER"), "{p}");
        assert!(
            p.contains("a1  pending  ticketing  create_ticket  3         t        boom\n"),
            "{p}"
        );
        assert!(p.ends_with("more: --cursor c\n"), "{p}");
        let e = entry(&serde_json::json!({"id": "a1", "payload": {"k": 1}}));
        assert!(e.contains("id:              a1\n"), "{e}");
        assert!(e.contains("payload:\n  {\n    \"k\": 1\n  }\n"), "{e}");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
