//! Short, redacted reasons built from a vendor's error body, for `upstream_rejected` answers.
//!
//! A reason is a list of `field: message` pairs (or bare messages) taken from the body,
//! never the raw body: at most [`MAX_PARTS`] parts, each message cut to
//! [`MAX_MESSAGE`] characters, the whole to [`MAX_REASON`], control characters turned
//! into spaces. A vendor may echo what it was sent, so a message under a sensitive field
//! name (`password`, `token`, … as `hub_core::redact` decides) is replaced whole, and
//! within any message a word that looks like a credential (an e-mail address, or a long
//! opaque run of letters, digits and `+/=_-.` holding both letters and digits) is
//! replaced by `[REDACTED]`.

use hub_core::redact::{REDACTED, is_sensitive_key};

/// At most this many `field: message` parts.
pub const MAX_PARTS: usize = 5;
/// Each message is cut to this many characters.
pub const MAX_MESSAGE: usize = 160;
/// The whole reason is cut to this many characters.
pub const MAX_REASON: usize = 400;

/// Builds the reason from `(field, message)` parts; `None` when no part says anything.
///
/// ```
/// use hub_ticketing::reject::reason;
/// let r = reason([(Some("priority"), "Field 'priority' cannot be set."), (Some("api_token"), "abc is wrong")]);
/// assert_eq!(r.as_deref(), Some("priority: Field 'priority' cannot be set.; api_token: [REDACTED]"));
/// ```
pub fn reason<'a>(parts: impl IntoIterator<Item = (Option<&'a str>, &'a str)>) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    for (field, message) in parts {
        if out.len() == MAX_PARTS {
            break;
        }
        let field = field.map(|f| cut(&clean(f), 60)).filter(|f| !f.is_empty());
        let message = match &field {
            Some(f) if is_sensitive_key(f) => REDACTED.to_owned(),
            _ => cut(&scrub(&clean(message)), MAX_MESSAGE),
        };
        if message.is_empty() {
            continue;
        }
        out.push(match field {
            Some(f) => format!("{f}: {message}"),
            None => message,
        });
    }
    let joined = out.join("; ");
    (!joined.is_empty()).then(|| cut(&joined, MAX_REASON))
}

/// Control characters become spaces; runs of whitespace become one space.
fn clean(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces words that look like credentials.
fn scrub(text: &str) -> String {
    text.split(' ')
        .map(|w| if looks_secret(w) { REDACTED } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

fn looks_secret(word: &str) -> bool {
    let word = word.trim_matches(|c: char| matches!(c, '\'' | '"' | ',' | ';' | '(' | ')' | '.' | ':'));
    if word.contains('@') {
        return true;
    }
    word.chars().count() >= 20
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '.'))
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_alphabetic())
}

/// At most `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn credentials_echoed_by_a_vendor_are_not_repeated() {
        let r = reason([
            (
                None,
                "User agent@acme.example with token AbCdEf0123456789xYz987 is not allowed",
            ),
            (Some("password"), "hunter2 is too short"),
        ])
        .unwrap();
        assert_eq!(
            r,
            "User [REDACTED] with token [REDACTED] is not allowed; password: [REDACTED]"
        );
    }

    #[test]
    fn empty_parts_give_no_reason() {
        assert_eq!(reason([(Some("x"), "  \n "), (None, "")]), None);
    }

    proptest! {
        /// Whatever the vendor sends, the reason is bounded, one line, and free of the
        /// secret-looking words it was given.
        #[test]
        fn bounded_single_line_and_scrubbed(
            parts in proptest::collection::vec((proptest::option::of("\\PC{0,30}"), "\\PC{0,300}"), 0..12),
            secret in "[A-Za-z]{10}[0-9]{10}[A-Za-z0-9]{0,10}",
        ) {
            let mut with_secret: Vec<(Option<String>, String)> = parts;
            with_secret.insert(0, (None, format!("echoed {secret} here")));
            let r = reason(with_secret.iter().map(|(f, m)| (f.as_deref(), m.as_str())));
            if let Some(r) = r {
                prop_assert!(r.chars().count() <= MAX_REASON);
                prop_assert!(!r.chars().any(char::is_control));
                prop_assert!(!r.contains(&secret));
            }
        }
    }
}
