//! Unguessable tokens (256 bits from the operating system's random source, base64url).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The operating system's random source failed (no token can be issued).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source failed")]
pub struct RandomError;

/// 32 random bytes as 43 base64url characters (no padding).
///
/// ```
/// let t = hub_app::supervisor::random::token().unwrap();
/// assert_eq!(t.len(), 43);
/// assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
/// assert_ne!(t, hub_app::supervisor::random::token().unwrap());
/// ```
pub fn token() -> Result<String, RandomError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
