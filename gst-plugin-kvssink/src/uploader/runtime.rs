// SPDX-License-Identifier: MPL-2.0
//! The one tokio runtime of this library: every uploader (and anything else in the plugin that
//! needs async I/O) runs on it, so a process with many sinks keeps a fixed thread count.

use std::sync::LazyLock;

pub static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        // One worker: each frame wakes the connection's task, and with two workers that
        // wake-up often woke the second one as well to look for work (one more context
        // switch per frame); the network side is I/O bound, one thread carries many streams.
        .worker_threads(1)
        .thread_name("kvssink-runtime")
        .enable_all()
        .build()
        // Without a runtime the plugin cannot do anything at all; there is no useful recovery.
        .unwrap_or_else(|err| panic!("cannot start the kvssink tokio runtime: {err}"))
});
