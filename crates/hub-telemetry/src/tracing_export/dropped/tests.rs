use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Take,
    Release(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![Just(Op::Take), (0usize..5).prop_map(Op::Release)]
}

proptest! {
    /// The queue bound against a model: a place is given while fewer than `limit` are
    /// taken, and releasing never goes below zero.
    #[test]
    fn the_bound_follows_its_model(limit in 0usize..6, ops in proptest::collection::vec(op(), 0..60)) {
        let pending = Pending::new(limit);
        let mut model = 0usize;
        for op in ops {
            match op {
                Op::Take => {
                    let expected = model < limit;
                    prop_assert_eq!(pending.take(), expected);
                    if expected {
                        model += 1;
                    }
                }
                Op::Release(n) => {
                    pending.release(n);
                    model = model.saturating_sub(n);
                }
            }
            prop_assert_eq!(pending.count.load(Ordering::Acquire), model);
        }
    }
}
