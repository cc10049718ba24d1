// SPDX-License-Identifier: MPL-2.0
//! MSB-first bit reading (with exp-Golomb) and writing for parameter sets and
//! AudioSpecificConfig.

use super::CodecError;

/// Reads bits MSB first from a byte slice; every read is bounds-checked.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Bits consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn bits_left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    pub fn is_byte_aligned(&self) -> bool {
        self.pos.is_multiple_of(8)
    }

    fn end(&self, context: &'static str) -> CodecError {
        CodecError::EndOfBitstream {
            context,
            bit_position: self.pos,
        }
    }

    pub fn read_bit(&mut self, context: &'static str) -> Result<bool, CodecError> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or_else(|| self.end(context))?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// Reads `n` bits (at most 64) as an unsigned big-endian number.
    pub fn read_bits(&mut self, n: u32, context: &'static str) -> Result<u64, CodecError> {
        if n > 64 {
            return Err(CodecError::InvalidValue {
                field: "bit count",
                value: u64::from(n),
            });
        }
        if (n as usize) > self.bits_left() {
            return Err(self.end(context));
        }
        let mut value = 0u64;
        for _ in 0..n {
            value = (value << 1) | u64::from(self.read_bit(context)?);
        }
        Ok(value)
    }

    pub fn read_u8(&mut self, n: u32, context: &'static str) -> Result<u8, CodecError> {
        let n = n.min(8);
        // n <= 8 so the value fits.
        Ok(self.read_bits(n, context)? as u8)
    }

    pub fn read_u32(&mut self, n: u32, context: &'static str) -> Result<u32, CodecError> {
        let n = n.min(32);
        Ok(self.read_bits(n, context)? as u32)
    }

    pub fn read_flag(&mut self, context: &'static str) -> Result<bool, CodecError> {
        self.read_bit(context)
    }

    pub fn skip_bits(&mut self, n: usize, context: &'static str) -> Result<(), CodecError> {
        if n > self.bits_left() {
            return Err(self.end(context));
        }
        self.pos += n;
        Ok(())
    }

    /// Unsigned exp-Golomb, `ue(v)`. Codes longer than 32 bits are rejected since no
    /// syntax element we read can legally need one.
    pub fn read_ue(&mut self, context: &'static str) -> Result<u32, CodecError> {
        let start = self.pos;
        let mut leading_zeros = 0u32;
        while !self.read_bit(context)? {
            leading_zeros += 1;
            if leading_zeros > 31 {
                return Err(CodecError::ExpGolombTooLong {
                    bit_position: start,
                });
            }
        }
        let suffix = self.read_bits(leading_zeros, context)?;
        let value = (1u64 << leading_zeros) - 1 + suffix;
        u32::try_from(value).map_err(|_| CodecError::ExpGolombTooLong {
            bit_position: start,
        })
    }

    /// Signed exp-Golomb, `se(v)`.
    pub fn read_se(&mut self, context: &'static str) -> Result<i32, CodecError> {
        let k = i64::from(self.read_ue(context)?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        // |v| <= 2^31 which fits except for exactly 2^31; clamp keeps it total.
        Ok(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }

    /// Reads a `ue(v)` and checks it against an inclusive maximum.
    pub fn read_ue_max(&mut self, max: u32, field: &'static str) -> Result<u32, CodecError> {
        let v = self.read_ue(field)?;
        if v > max {
            return Err(CodecError::InvalidValue {
                field,
                value: u64::from(v),
            });
        }
        Ok(v)
    }
}

/// Writes bits MSB first; the last byte is zero-padded.
#[derive(Debug, Default, Clone)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 = byte aligned).
    used: u32,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn write_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit && let Some(last) = self.bytes.last_mut() {
            *last |= 1 << (7 - self.used);
        }
        self.used = (self.used + 1) % 8;
    }

    /// Writes the low `n` bits of `value` (n at most 64).
    pub fn write_bits(&mut self, value: u64, n: u32) {
        for i in (0..n.min(64)).rev() {
            self.write_bit((value >> i) & 1 == 1);
        }
    }

    /// Unsigned exp-Golomb, `ue(v)`.
    pub fn write_ue(&mut self, value: u32) {
        let v = u64::from(value) + 1;
        let len = 64 - v.leading_zeros();
        self.write_bits(0, len - 1);
        self.write_bits(v, len);
    }

    /// Signed exp-Golomb, `se(v)`.
    pub fn write_se(&mut self, value: i32) {
        let mapped = if value > 0 {
            2 * i64::from(value) - 1
        } else {
            -2 * i64::from(value)
        };
        // |value| <= 2^31 maps to at most 2^32, which ue(v) cannot hold only for i32::MIN.
        self.write_ue(u32::try_from(mapped).unwrap_or(u32::MAX));
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_values() {
        // ue: 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3; se: 010 -> +1, 011 -> -1
        let data = [0b1010_0110, 0b0100_0100, 0b1100_0000];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_ue("a").unwrap(), 0);
        assert_eq!(r.read_ue("b").unwrap(), 1);
        assert_eq!(r.read_ue("c").unwrap(), 2);
        assert_eq!(r.read_ue("d").unwrap(), 3);
        assert_eq!(r.read_se("e").unwrap(), 1);
        assert_eq!(r.read_se("f").unwrap(), -1);
    }

    #[test]
    fn exp_golomb_hostile_input_is_an_error() {
        let zeros = [0u8; 8];
        let mut r = BitReader::new(&zeros);
        assert!(matches!(
            r.read_ue("x"),
            Err(CodecError::ExpGolombTooLong { bit_position: 0 })
        ));
        let mut r = BitReader::new(&[0x00, 0x01]);
        assert!(matches!(
            r.read_ue("y"),
            Err(CodecError::EndOfBitstream { context: "y", .. })
        ));
    }

    #[test]
    fn read_past_end_is_an_error() {
        let mut r = BitReader::new(&[0xAB]);
        assert_eq!(r.read_bits(4, "hi").unwrap(), 0xA);
        assert!(r.read_bits(5, "lo").is_err());
        assert_eq!(r.read_bits(4, "lo").unwrap(), 0xB);
        assert!(r.read_bit("end").is_err());
    }

    #[test]
    fn exp_golomb_writer_round_trips() {
        let mut w = BitWriter::new();
        for v in [0u32, 1, 2, 7, 255, 65_535, u32::MAX - 1] {
            w.write_ue(v);
        }
        for v in [0i32, 1, -1, 100, -100, i32::MAX] {
            w.write_se(v);
        }
        let bytes = w.into_bytes();
        let mut r = BitReader::new(&bytes);
        for v in [0u32, 1, 2, 7, 255, 65_535, u32::MAX - 1] {
            assert_eq!(r.read_ue("ue").unwrap(), v);
        }
        for v in [0i32, 1, -1, 100, -100, i32::MAX] {
            assert_eq!(r.read_se("se").unwrap(), v);
        }
    }

    #[test]
    fn writer_round_trips_with_reader() {
        let mut w = BitWriter::new();
        w.write_bits(0b10110, 5);
        w.write_bits(0xABCDEF, 24);
        w.write_bit(true);
        let bytes = w.into_bytes();
        assert_eq!(bytes.len(), 4);
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.read_bits(5, "a").unwrap(), 0b10110);
        assert_eq!(r.read_bits(24, "b").unwrap(), 0xABCDEF);
        assert!(r.read_bit("c").unwrap());
        assert_eq!(r.bits_left(), 2);
    }
}
