//! The supervisor's sign-in: sessions in the shared session store, and the throttle on
//! failed sign-ins — whatever page or tool the supervisor uses.

pub mod random;
pub mod sessions;
pub mod throttle;

pub use sessions::{Active, SessionError, SessionSettings, Sessions};
pub use throttle::{Subject, Throttle, ThrottleSettings};
