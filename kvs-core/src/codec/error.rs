// SPDX-License-Identifier: MPL-2.0
//! The one error type of the codec module.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    #[error("bitstream ended after bit {bit_position} while reading {context}")]
    EndOfBitstream {
        context: &'static str,
        bit_position: usize,
    },
    #[error("exp-Golomb code at bit {bit_position} is longer than 32 bits")]
    ExpGolombTooLong { bit_position: usize },
    #[error("{what} is truncated: needs {needed} bytes, has {available}")]
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("{field} has invalid value {value}")]
    InvalidValue { field: &'static str, value: u64 },
    #[error("{what} is not supported: {detail}")]
    Unsupported { what: &'static str, detail: String },
    #[error("NAL unit of type {found} given where {expected} was expected")]
    UnexpectedNalType { expected: &'static str, found: u8 },
    #[error("empty NAL unit")]
    EmptyNalUnit,
    #[error("data does not start with an Annex-B start code")]
    NotAnnexB,
    #[error("no NAL units found in the data")]
    NoNalUnits,
    #[error("missing parameter set: {0}")]
    MissingParameterSet(&'static str),
    #[error("{what} has {count} entries, at most {max} fit")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{what} is {len} bytes, at most {max} fit")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("frame cropping ({crop}) exceeds the coded size ({coded}) in {axis}")]
    CropTooLarge {
        axis: &'static str,
        crop: u64,
        coded: u64,
    },
}
