//! A stable 64-bit fingerprint of bytes (FNV-1a): the same in every build, platform, instance and version, unlike std's hasher.

/// An FNV-1a hash being fed.
///
/// ```
/// use hub_core::fingerprint::Fnv1a;
/// assert_eq!(Fnv1a::default().finish(), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(Fnv1a::of(b"a"), 0xaf63_dc4c_8601_ec8c);
/// let mut h = Fnv1a::default();
/// h.write(b"a");
/// assert_eq!(h.finish(), Fnv1a::of(b"a"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    /// The fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> u64 {
        let mut h = Self::default();
        h.write(bytes);
        h.finish()
    }

    /// Feeds `bytes`.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The fingerprint of everything fed so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}
