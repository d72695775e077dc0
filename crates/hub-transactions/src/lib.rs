//! Transaction adapters: status reads (`TransactionStatusPort`) and draft, commit and
//! cancel writes (`TransactionCreatePort`), through the shared resilient path of `hub-upstream`.

pub mod create;
pub mod status;
mod wire;

pub use create::TransactionCreateAdapter;
pub use status::TransactionStatusAdapter;
