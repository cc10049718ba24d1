// SPDX-License-Identifier: MPL-2.0
//! kvs-local: the Kinesis Video Streams API on one machine.
