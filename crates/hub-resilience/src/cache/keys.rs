//! The layout of cache keys and tags, so whoever caches a read and whoever invalidates it build the same string.
//!
//! A key is `integration:{operation}:{name}={value}&…`, parameters sorted by name; a tag
//! is `{kind}:{value}`. In names and values `%`, `&`, `=` and `:` are percent-encoded.
//! Keys are readable and unhashed, and the same whichever code path builds them. Which
//! operations, parameters and tags exist is for the crates that know the resources.
//!
//! ```
//! use hub_resilience::cache::keys;
//! assert_eq!(keys::key("item", &[("id", "A-1")]), "integration:item:id=A-1");
//! assert_eq!(keys::key("x", &[("b", "2"), ("a", "1&=")]), "integration:x:a=1%26%3D&b=2");
//! assert_eq!(keys::tag("owner", "c:7"), "owner:c%3A7");
//! ```

use std::fmt::Write as _;

/// The key of `operation` with `params` (in any order).
pub fn key(operation: &str, params: &[(&str, &str)]) -> String {
    // Most keys have one parameter, or come sorted: then no copy is made to sort them.
    let copy;
    let sorted = if params.is_sorted() {
        params
    } else {
        copy = {
            let mut v = params.to_vec();
            v.sort_unstable();
            v
        };
        &copy[..]
    };
    // Escapes are rare; the length without them is the usual length, so one allocation.
    let len =
        "integration:".len() + operation.len() + 1 + sorted.iter().map(|(n, v)| n.len() + v.len() + 2).sum::<usize>();
    let mut out = String::with_capacity(len);
    out.push_str("integration:");
    out.push_str(operation);
    out.push(':');
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, name);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// The tag `{kind}:{value}`, for invalidating every key that carries it at once.
pub fn tag(kind: &str, value: &str) -> String {
    let mut out = format!("{kind}:");
    encode_into(&mut out, value);
    out
}

fn encode_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '%' | '&' | '=' | ':' => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "%{b:02X}");
                }
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parameter_order_does_not_matter(a in ".{0,8}", b in ".{0,8}") {
            prop_assert_eq!(key("op", &[("a", &a), ("b", &b)]), key("op", &[("b", &b), ("a", &a)]));
        }

        #[test]
        fn distinct_values_give_distinct_keys_and_tags(a in ".{0,12}", b in ".{0,12}") {
            prop_assume!(a != b);
            prop_assert_ne!(key("op", &[("id", &a)]), key("op", &[("id", &b)]));
            prop_assert_ne!(key("op", &[("id", &a), ("limit", "10")]), key("op", &[("id", &b), ("limit", "10")]));
            prop_assert_ne!(tag("kind", &a), tag("kind", &b));
        }

        #[test]
        fn a_value_cannot_forge_another_parameter(a in ".{0,12}", b in ".{0,12}") {
            let joined = format!("{a}&limit={b}");
            prop_assert_ne!(key("op", &[("id", &joined)]), key("op", &[("id", &a), ("limit", &b)]));
        }
    }
}
