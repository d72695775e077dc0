use proptest::prelude::*;

use super::*;

/// The W3C rule, written differently from the parser: fields split on `-`.
fn model(s: &str) -> bool {
    let lower_hex =
        |f: &str, n: usize| f.len() == n && f.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let nonzero = |f: &str| f.bytes().any(|b| b != b'0');
    let fields: Vec<&str> = s.split('-').collect();
    let [version, trace, span, flags, rest @ ..] = fields.as_slice() else {
        return false;
    };
    lower_hex(version, 2)
        && *version != "ff"
        && lower_hex(trace, 32)
        && nonzero(trace)
        && lower_hex(span, 16)
        && nonzero(span)
        && lower_hex(flags, 2)
        && (*version != "00" || rest.is_empty())
}

#[test]
fn the_specifications_examples() {
    let tp = TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
    assert_eq!(tp.trace_id().to_string(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(tp.span_id().to_string(), "b7ad6b7169203331");
    assert_eq!((tp.flags(), tp.sampled()), (1, true));
    let unsampled = TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00").unwrap();
    assert!(!unsampled.sampled());
    for (input, error) in [
        ("", TraceParentError::Length),
        (
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",
            TraceParentError::Length,
        ),
        (
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
            TraceParentError::Length,
        ),
        (
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            TraceParentError::Version,
        ),
        (
            "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            TraceParentError::Version,
        ),
        (
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            TraceParentError::Separator,
        ),
        (
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            TraceParentError::TraceId,
        ),
        (
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            TraceParentError::TraceId,
        ),
        (
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            TraceParentError::SpanId,
        ),
        (
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",
            TraceParentError::Flags,
        ),
    ] {
        assert_eq!(TraceParent::parse(input), Err(error), "{input:?}");
    }
    // A later version is read for its version-00 fields and written back as 00.
    let later = TraceParent::parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-comes-next").unwrap();
    assert_eq!(
        later.to_string(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert!(TraceParent::parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x").is_err());
}

#[test]
fn serde_is_the_header_text() {
    let text = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let tp: TraceParent = serde_json::from_value(serde_json::json!(text)).unwrap();
    assert_eq!(serde_json::to_value(tp).unwrap(), serde_json::json!(text));
    assert!(serde_json::from_value::<TraceParent>(serde_json::json!("00-nope")).is_err());
}

/// Pieces of `traceparent`s, valid and not, for the model test.
fn piece(valid: &'static str, wrong: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(valid.to_owned()),
        1 => proptest::sample::select(wrong).prop_map(str::to_owned),
    ]
}

fn assembled() -> impl Strategy<Value = String> {
    (
        piece("00", &["01", "cc", "ff", "0A", "zz", "0", "000"]),
        prop_oneof![
            8 => "[0-9a-f]{32}",
            1 => Just("0".repeat(32)),
            1 => "[0-9A-F]{32}",
            1 => "[0-9a-f]{31}",
            1 => "[0-9a-f]{33}",
        ],
        prop_oneof![
            8 => "[0-9a-f]{16}",
            1 => Just("0".repeat(16)),
            1 => "[0-9a-fA-F]{16}",
            1 => "[0-9a-f]{15}",
        ],
        piece("01", &["00", "ff", "0G", "1", "a0b"]),
        proptest::sample::select(vec!["-", "-", "-", "-", "-", "_", "", "--"]),
        proptest::sample::select(vec!["", "", "", "", "-x", "x", "-", "-ab-cd"]),
    )
        .prop_map(|(v, t, p, f, sep, tail)| format!("{v}{sep}{t}-{p}-{f}{tail}"))
}

proptest! {
    #[test]
    fn any_context_round_trips(trace in any::<[u8; 16]>(), span in any::<[u8; 8]>(), flags in any::<u8>()) {
        let (Some(trace_id), Some(span_id)) = (TraceId::from_bytes(trace), SpanId::from_bytes(span)) else {
            return Ok(());
        };
        let tp = TraceParent::new(trace_id, span_id, flags);
        let text = tp.to_string();
        prop_assert_eq!(text.len(), 55);
        prop_assert!(!text.bytes().any(|b| b.is_ascii_uppercase()));
        prop_assert_eq!(TraceParent::parse(&text), Ok(tp));
        prop_assert_eq!(tp.trace_id().to_bytes(), trace);
        prop_assert_eq!(tp.span_id().to_bytes(), span);
        prop_assert_eq!(tp.sampled(), flags & 1 == 1);
    }

    #[test]
    fn the_parser_agrees_with_the_rule(s in assembled()) {
        let parsed = TraceParent::parse(&s);
        prop_assert_eq!(parsed.is_ok(), model(&s), "{:?}: {:?}", s, parsed);
        if let Ok(tp) = parsed {
            // Its fields are the input's, written back as version 00.
            prop_assert_eq!(&tp.to_string()[3..], &s[3..55]);
        }
    }

    #[test]
    fn any_text_is_parsed_or_refused_without_panic(s in "\\PC{0,70}|[0-9a-f-]{50,60}") {
        prop_assert_eq!(TraceParent::parse(&s).is_ok(), model(&s), "{:?}", s);
    }
}
