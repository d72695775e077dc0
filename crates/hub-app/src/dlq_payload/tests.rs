use super::*;
use hub_core::CustomerId;
use proptest::prelude::*;
use serde_json::json;

fn ops() -> Vec<WriteOp> {
    let money = Money::new("500.10".parse::<Amount>().unwrap(), Currency::parse("EUR").unwrap());
    vec![
        WriteOp::CreateTicket(NewTicket {
            customer_id: CustomerId::parse("C-1").unwrap(),
            subject: "s".into(),
            description: "d".into(),
            priority: Priority::High,
        }),
        WriteOp::AddComment {
            ticket_id: TicketId::parse("T-1").unwrap(),
            comment: NewComment {
                body: "b".into(),
                public: false,
            },
        },
        WriteOp::CreateDraft(NewDraft {
            customer_id: CustomerId::parse("C-1").unwrap(),
            money,
            description: "d".into(),
            metadata: Map::new(),
        }),
        WriteOp::Commit(DraftId::parse("D-1").unwrap()),
        WriteOp::Cancel(DraftId::parse("D-1").unwrap()),
    ]
}

#[test]
fn every_operation_round_trips() {
    for op in ops() {
        let stored = encode(&op);
        assert_eq!(stored[VERSION_FIELD], 1);
        assert_eq!(decode(op.operation().as_str(), &stored).unwrap(), op);
    }
}

#[test]
fn the_v1_layout_is_fixed() {
    // These bodies are what entries written by earlier hubs hold; they must keep
    // decoding, and fingerprints computed over them must not move.
    let [ticket, comment, draft, commit, _] = ops().try_into().unwrap();
    assert_eq!(
        body(&ticket),
        json!({"customer_id": "C-1", "subject": "s", "description": "d", "priority": "high"})
    );
    assert_eq!(
        body(&comment),
        json!({"ticket_id": "T-1", "comment": {"body": "b", "public": false}})
    );
    assert_eq!(
        body(&draft),
        json!({"customer_id": "C-1", "money": {"amount": "500.10", "currency": "EUR"}, "description": "d", "metadata": {}})
    );
    assert_eq!(body(&commit), json!({"draft_id": "D-1"}));
}

#[test]
fn stored_v1_entries_decode() {
    let fixture: Vec<Value> = serde_json::from_str(include_str!("../../tests/fixtures/dlq_v1.json")).unwrap();
    let decoded: Vec<WriteOp> = fixture
        .iter()
        .map(|e| decode(e["operation"].as_str().unwrap(), &e["payload"]).unwrap())
        .collect();
    assert_eq!(decoded.len(), 5);
    let WriteOp::CreateDraft(d) = &decoded[2] else {
        panic!("{:?}", decoded[2])
    };
    assert_eq!(d.money.to_string(), "500.10 EUR");
    assert_eq!(d.metadata["order"], 77);
}

#[test]
fn what_cannot_be_replayed_says_why() {
    assert_eq!(
        decode("drop_tables", &json!({})),
        Err(UnreplayableError::UnknownOperation("drop_tables".into()))
    );
    assert_eq!(
        decode("get_ticket_status", &json!({})),
        Err(UnreplayableError::UnknownOperation("get_ticket_status".into()))
    );
    assert_eq!(
        decode("cancel_draft", &json!({"draft_id": "D-1", "version": 2})),
        Err(UnreplayableError::UnknownVersion(2))
    );
    let Err(UnreplayableError::BadPayload { operation, reason }) = decode("cancel_draft", &json!({"draft_id": "../x"}))
    else {
        panic!("a bad id must be refused")
    };
    assert_eq!(operation, "cancel_draft");
    assert!(reason.starts_with("draft_id"), "{reason}");
    assert!(matches!(
        decode(
            "create_draft_transaction",
            &json!({"customer_id": "C", "money": {"amount": 1.5, "currency": "eur"}, "description": "d"})
        ),
        Err(UnreplayableError::BadPayload { .. })
    ));
}

proptest! {
    #[test]
    fn arbitrary_payloads_never_panic(op in prop::sample::select(Operation::ALL.to_vec()), raw in "\\PC{0,64}", n in any::<i64>()) {
        for payload in [json!(raw.clone()), json!({"draft_id": raw}), json!({"version": n}), json!({"ticket_id": raw, "comment": n})] {
            let _ = decode(op.as_str(), &payload);
        }
    }

    #[test]
    fn amounts_survive_exactly(units in 1i64..1_000_000_000, scale in 0u32..6) {
        let amount: Amount = rust_decimal_string(units, scale).parse().unwrap();
        let op = WriteOp::CreateDraft(NewDraft {
            customer_id: CustomerId::parse("C").unwrap(),
            money: Money::new(amount, Currency::parse("JPY").unwrap()),
            description: String::new(),
            metadata: Map::new(),
        });
        prop_assert_eq!(decode("create_draft_transaction", &encode(&op)).unwrap(), op);
    }
}

fn rust_decimal_string(units: i64, scale: u32) -> String {
    let digits = units.to_string();
    let scale = scale as usize;
    if scale == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{int}.{frac}")
}
