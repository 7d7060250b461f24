//! Reading big-endian bit fields out of a packet into the per-packet scratch space, and
//! turning raw bit patterns into values.

use crate::XtceError;
use crate::model::FloatFormat;

/// Where a binary or string value lies: in the input, or in the per-packet copy buffer
/// (for values that do not start and end on byte boundaries).
#[derive(Clone, Copy, Default)]
pub(crate) struct Span {
    pub in_scratch: bool,
    pub start: usize,
    pub len: usize,
}

/// Values of the packet being decoded, indexed by slot.
pub(crate) struct Scratch {
    /// Integers as their u64 bit pattern (sign-extended), floats as f64 bits.
    pub values: Vec<u64>,
    pub labels: Vec<u32>,
    pub spans: Vec<Span>,
    pub bytes: Vec<u8>,
}

impl Scratch {
    pub(crate) fn span<'a>(&'a self, data: &'a [u8], span: Span) -> &'a [u8] {
        let source = if span.in_scratch { &self.bytes[..] } else { data };
        &source[span.start..span.start + span.len]
    }
}

/// A read past the end of the packet, positions relative to the packet start.
pub(crate) struct Overrun {
    bit_position: usize,
    bits: usize,
    packet_bits: usize,
}

impl Overrun {
    pub(crate) fn into_error(self, field: &str) -> XtceError {
        XtceError::FieldBeyondPacket {
            field: field.to_string(),
            bit_position: self.bit_position,
            bits: self.bits,
            packet_bits: self.packet_bits,
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Padding {
    /// Like an integer turned into bytes: zero bits before the value (binary fields).
    Left,
    /// Zero bits after the value (string buffers).
    Right,
}

/// Reads one packet. `data` is the whole input so that word-sized loads near the end of a
/// packet need no special case; `end` bounds what the packet may use.
pub(crate) struct BitReader<'a> {
    pub data: &'a [u8],
    pub position: usize,
    pub start: usize,
    pub end: usize,
}

impl BitReader<'_> {
    fn overrun(&self, bits: usize) -> Overrun {
        Overrun { bit_position: self.position - self.start, bits, packet_bits: self.end - self.start }
    }

    #[inline]
    pub(crate) fn peek(&self, bits: u32) -> Result<u64, Overrun> {
        if self.end - self.position < bits as usize {
            return Err(self.overrun(bits as usize));
        }
        Ok(read_bits(self.data, self.position, bits))
    }

    #[inline]
    pub(crate) fn read(&mut self, bits: u32) -> Result<u64, Overrun> {
        let value = self.peek(bits)?;
        self.position += bits as usize;
        Ok(value)
    }

    pub(crate) fn take(&mut self, bits: usize, padding: Padding, bytes: &mut Vec<u8>) -> Result<Span, Overrun> {
        if self.end - self.position < bits {
            return Err(self.overrun(bits));
        }
        let span = extract(self.data, self.position, bits, padding, bytes);
        self.position += bits;
        Ok(span)
    }
}

/// Big-endian read of `bits` (at most 64) bits starting at bit `position`.
#[inline]
pub(crate) fn read_bits(data: &[u8], position: usize, bits: u32) -> u64 {
    if bits == 0 {
        return 0;
    }
    let byte = position >> 3;
    let shift = (position & 7) as u32;
    let rest = data.get(byte..).unwrap_or_default();
    if shift + bits <= 64
        && let Some(word) = rest.first_chunk::<8>()
    {
        return (u64::from_be_bytes(*word) << shift) >> (64 - bits);
    }
    if let Some(word) = rest.first_chunk::<16>() {
        return ((u128::from_be_bytes(*word) << shift) >> (128 - bits)) as u64;
    }
    // Near the end of the input: gather the bytes one at a time.
    let last_byte = (position + bits as usize - 1) >> 3;
    let mut word: u128 = 0;
    for &value in &data[byte..=last_byte] {
        word = (word << 8) | u128::from(value);
    }
    let loaded_bits = ((last_byte - byte + 1) * 8) as u32;
    ((word >> (loaded_bits - shift - bits)) & (u128::MAX >> (128 - bits))) as u64
}

/// The span of `bits` bits at `position`, copied into `bytes` unless byte-aligned.
pub(crate) fn extract(data: &[u8], position: usize, bits: usize, padding: Padding, bytes: &mut Vec<u8>) -> Span {
    if bits == 0 || (position.is_multiple_of(8) && bits.is_multiple_of(8)) {
        return Span { in_scratch: false, start: position / 8, len: bits / 8 };
    }
    let start = bytes.len();
    let partial = (bits % 8) as u32;
    let mut cursor = position;
    if let (Padding::Left, 1..) = (padding, partial) {
        bytes.push(read_bits(data, cursor, partial) as u8);
        cursor += partial as usize;
    }
    for _ in 0..bits / 8 {
        bytes.push(read_bits(data, cursor, 8) as u8);
        cursor += 8;
    }
    if let (Padding::Right, 1..) = (padding, partial) {
        bytes.push((read_bits(data, cursor, partial) << (8 - partial)) as u8);
    }
    Span { in_scratch: true, start, len: bytes.len() - start }
}

pub(crate) fn sign_extend(value: u64, bits: u32) -> i64 {
    let unused = 64 - bits;
    ((value << unused) as i64) >> unused
}

/// Reverses the bytes of a little-endian value that was read as big-endian.
pub(crate) fn swap_bytes(value: u64, bits: u32) -> u64 {
    let byte_count = bits.div_ceil(8);
    value.swap_bytes() >> (64 - 8 * byte_count)
}

pub(crate) fn float_value(bits_value: u64, bits: u32, format: FloatFormat) -> f64 {
    match (format, bits) {
        (FloatFormat::MilStd1750a, _) => {
            let exponent = i32::from(bits_value as u8 as i8);
            let mantissa = sign_extend(bits_value >> 8, 24);
            mantissa as f64 * 2f64.powi(exponent - 23)
        }
        (FloatFormat::Ieee754, 16) => half_to_f64(bits_value as u16),
        (FloatFormat::Ieee754, 32) => f64::from(f32::from_bits(bits_value as u32)),
        (FloatFormat::Ieee754, _) => f64::from_bits(bits_value),
    }
}

pub(crate) fn half_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    match exponent {
        0 => sign * fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + fraction / 1024.0) * 2f64.powi(exponent - 15),
    }
}
