// SPDX-License-Identifier: MPL-2.0
//! `kvs-loadgen`: HTTP load generator for kvs-local (see `docs/PERFORMANCE.md`).
//!
//! Run: `cargo run --release -p kvs-local --bin kvs-loadgen -- --streams 200 --seconds 30`

#[path = "../loadgen/mod.rs"]
mod loadgen;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Server mode: this same executable, started by the generator as the server under test.
    if std::env::var_os(loadgen::server_proc::SERVE_ENV).is_some() {
        return kvs_local::cli::main();
    }
    let args = loadgen::run::Args::parse();
    match loadgen::run::main(args) {
        Ok(summary) => {
            summary.print();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kvs-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
