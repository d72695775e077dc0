//! Request ids for calls the hub starts itself or answers without one from the caller.

use hub_core::RequestId;

/// A fresh request id (UUID v7: sortable by time).
///
/// ```
/// let id = hub_app::generate_request_id();
/// assert_eq!(id.as_str().len(), 36);
/// ```
pub fn generate_request_id() -> RequestId {
    // Formatted on the stack: the id's own text is the one allocation.
    let mut text = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut text);
    // A UUID is 36 visible ASCII characters, always a valid token: the loop runs once.
    loop {
        if let Ok(id) = RequestId::parse(text) {
            return id;
        }
    }
}
