// SPDX-License-Identifier: MPL-2.0
//! The `kvs-local` binary; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    kvs_local::cli::main()
}
