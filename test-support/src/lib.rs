// SPDX-License-Identifier: MPL-2.0
//! Test helpers shared by the plugin crates, so each crate's tests say only what is
//! particular to it.

pub mod inspect;
pub mod local;
