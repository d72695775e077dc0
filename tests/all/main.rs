//! The workspace's end-to-end tests, one binary with a module per concern.
// Test code: a failed expectation should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod architecture;
