//! The protocol-buffer wire format, written: the few field kinds OTLP's trace messages use,
//! with each nested message's length patched in after its body is written.

/// A message under construction.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

/// Wire types (the low three bits of a field's key).
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

impl Writer {
    /// An empty message with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// The bytes written.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn varint(&mut self, value: u64) {
        varint_bytes(value, |b| self.buf.push(b));
    }

    fn key(&mut self, field: u32, wire_type: u32) {
        self.varint(u64::from(field << 3 | wire_type));
    }

    /// A varint field, also when zero (a `oneof` member is written whatever its value).
    pub(crate) fn varint_field(&mut self, field: u32, value: u64) {
        self.key(field, VARINT);
        self.varint(value);
    }

    /// A varint field, left out when zero (proto3's default).
    pub(crate) fn uint(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.varint_field(field, value);
        }
    }

    /// A `fixed64` field, left out when zero.
    pub(crate) fn fixed64(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.fixed64_field(field, value);
        }
    }

    /// A `fixed64` field, also when zero.
    pub(crate) fn fixed64_field(&mut self, field: u32, value: u64) {
        self.key(field, FIXED64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A `fixed32` field, left out when zero.
    pub(crate) fn fixed32(&mut self, field: u32, value: u32) {
        if value != 0 {
            self.key(field, FIXED32);
            self.buf.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// A `bytes` field, left out when empty.
    pub(crate) fn bytes(&mut self, field: u32, value: &[u8]) {
        if !value.is_empty() {
            self.bytes_field(field, value);
        }
    }

    /// A `bytes` or `string` field, also when empty.
    #[inline(always)]
    pub(crate) fn bytes_field(&mut self, field: u32, value: &[u8]) {
        self.key(field, LEN);
        self.varint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    /// A `string` field, left out when empty.
    pub(crate) fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    /// A nested message (written even when empty, as a present optional message is),
    /// its body written by `body`: for a message expected to be shorter than 128 bytes.
    #[inline(always)]
    pub(crate) fn message(&mut self, field: u32, body: impl FnOnce(&mut Self)) {
        self.key(field, LEN);
        let at = self.buf.len();
        self.buf.push(0);
        body(self);
        let len = self.buf.len() - at - 1;
        if len < 0x80 {
            self.buf[at] = len as u8;
        } else {
            self.place_length(at, 1, len);
        }
    }

    /// [`Writer::message`] with `reserved` bytes kept for the length, the number its
    /// expected size takes as a varint (two up to 16 KiB, three up to 2 MiB): a length of
    /// another size moves the body, in place, by the difference.
    pub(crate) fn message_sized(&mut self, field: u32, reserved: usize, body: impl FnOnce(&mut Self)) {
        self.key(field, LEN);
        let at = self.buf.len();
        self.buf.resize(at + reserved, 0);
        body(self);
        let len = self.buf.len() - at - reserved;
        self.place_length(at, reserved, len);
    }

    /// Writes `len`, the length of the body after the `reserved` bytes at `at`, into them,
    /// moving the body by the difference when it takes another number of bytes.
    fn place_length(&mut self, at: usize, reserved: usize, len: usize) {
        let mut n = 1;
        while len >> (7 * n) != 0 {
            n += 1;
        }
        if n != reserved {
            let end = at + reserved + len;
            if n > reserved {
                self.buf.resize(end + n - reserved, 0);
            }
            self.buf.copy_within(at + reserved..end, at + n);
            self.buf.truncate(at + n + len);
        }
        let mut i = at;
        varint_bytes(len as u64, |b| {
            self.buf[i] = b;
            i += 1;
        });
    }
}

/// Gives the bytes of `value` as a varint, in order, to `emit`.
fn varint_bytes(mut value: u64, mut emit: impl FnMut(u8)) {
    while value >= 0x80 {
        // Seven bits at a time, low first, the high bit saying "more follows".
        emit((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    emit(value as u8);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Reads a varint from the front of `bytes`: the value and the bytes it took.
    fn read_varint(bytes: &[u8]) -> (u64, usize) {
        let mut value = 0u64;
        for (i, b) in bytes.iter().enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return (value, i + 1);
            }
        }
        panic!("a truncated varint: {bytes:?}");
    }

    #[test]
    fn fields_are_written_as_the_wire_format_says() {
        let mut w = Writer::default();
        w.uint(1, 150);
        w.string(2, "testing");
        w.fixed32(16, 0x101);
        w.uint(3, 0);
        w.string(4, "");
        w.varint_field(5, 0);
        // Examples of the protocol buffers encoding guide, and fields left out.
        assert_eq!(
            w.into_bytes(),
            [
                &[0x08, 0x96, 0x01][..],
                &[0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g'],
                &[0x85, 0x01, 0x01, 0x01, 0x00, 0x00],
                &[0x28, 0x00],
            ]
            .concat()
        );
    }

    /// A length-delimited field's key, and its body (checked to be as long as its length says).
    fn delimited(bytes: &[u8]) -> (u64, &[u8]) {
        let (key, used) = read_varint(bytes);
        let (len, took) = read_varint(&bytes[used..]);
        let body = &bytes[used + took..];
        assert_eq!(len, body.len() as u64);
        (key, body)
    }

    proptest! {
        /// A nested message of any length, and a `bytes` field, are their key, their length
        /// as a varint, then their body.
        #[test]
        fn a_delimited_field_is_prefixed_with_its_key_and_length(body in proptest::collection::vec(any::<u8>(), 0..40_000), field in 1u32..2048, reserved in 1usize..4) {
            let mut message = Writer::default();
            message.message(field, |w| w.buf.extend_from_slice(&body));
            let mut sized = Writer::default();
            sized.message_sized(field, reserved, |w| w.buf.extend_from_slice(&body));
            let mut bytes = Writer::default();
            bytes.bytes_field(field, &body);
            for written in [message.into_bytes(), sized.into_bytes(), bytes.into_bytes()] {
                prop_assert_eq!(delimited(&written), (u64::from(field << 3 | LEN), &body[..]));
            }
        }

        /// A varint reads back as the value written.
        #[test]
        fn a_varint_reads_back(value in prop_oneof![any::<u64>(), 0u64..300]) {
            let mut w = Writer::default();
            w.varint(value);
            let bytes = w.into_bytes();
            prop_assert_eq!(read_varint(&bytes), (value, bytes.len()));
        }
    }
}
