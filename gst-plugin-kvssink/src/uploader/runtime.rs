// SPDX-License-Identifier: MPL-2.0
//! The one tokio runtime of this library: every uploader (and anything else in the plugin that
//! needs async I/O) runs on it, so a process with many sinks keeps a fixed thread count.

use std::sync::LazyLock;

pub static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kvssink-runtime")
        .enable_all()
        .build()
        // Without a runtime the plugin cannot do anything at all; there is no useful recovery.
        .unwrap_or_else(|err| panic!("cannot start the kvssink tokio runtime: {err}"))
});
