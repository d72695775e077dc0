//! Atlassian Document Format: plain text to an ADF document and back, for Jira bodies.

use serde_json::{Value, json};

/// Plain text as an ADF document: one paragraph per line, empty lines kept as empty
/// paragraphs. CRLF and lone CR line ends count as line ends, so no `\r` reaches Jira.
///
/// ```
/// let doc = hub_ticketing::adf::from_text("Hello\nworld");
/// assert_eq!(doc["type"], "doc");
/// assert_eq!(hub_ticketing::adf::to_text(&doc), "Hello\nworld");
/// ```
pub fn from_text(text: &str) -> Value {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let paragraphs: Vec<Value> = text
        .split('\n')
        .map(|line| {
            if line.is_empty() {
                json!({"type": "paragraph", "content": []})
            } else {
                json!({"type": "paragraph", "content": [{"type": "text", "text": line}]})
            }
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": paragraphs})
}

/// The text of an ADF document: text nodes joined, one line per block.
pub fn to_text(doc: &Value) -> String {
    let blocks = doc
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    blocks.iter().map(block_text).collect::<Vec<_>>().join("\n")
}

fn block_text(node: &Value) -> String {
    if let Some(text) = node.get("text").and_then(Value::as_str) {
        return text.to_owned();
    }
    node.get("content")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(block_text).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn text_round_trips(text in "[^\r]{0,200}") {
            prop_assert_eq!(to_text(&from_text(&text)), text);
        }

        /// Windows and old-Mac line ends become paragraphs; no `\r` is ever sent.
        #[test]
        fn carriage_returns_never_reach_the_document(text in "[a-z\r\n]{0,60}") {
            let doc = from_text(&text);
            prop_assert!(!doc.to_string().contains("\\r"));
            prop_assert_eq!(to_text(&doc), text.replace("\r\n", "\n").replace('\r', "\n"));
        }
    }

    #[test]
    fn foreign_documents_read() {
        let doc = json!({"type":"doc","version":1,"content":[
            {"type":"paragraph","content":[{"type":"text","text":"a "},{"type":"text","text":"b","marks":[{"type":"strong"}]}]},
            {"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"c"}]}]}]}
        ]});
        assert_eq!(to_text(&doc), "a b\nc");
        assert_eq!(to_text(&json!(null)), "");
    }

    #[test]
    fn crlf_input_makes_the_same_document_as_lf() {
        assert_eq!(from_text("a\r\nb\r\n\r\nc"), from_text("a\nb\n\nc"));
    }
}
