// SPDX-License-Identifier: MPL-2.0
//! The one tokio runtime of this library: every kvssrc in a process shares its threads.

use std::sync::LazyLock;

pub(crate) static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kvssrc-runtime")
        .enable_all()
        .build()
        // Without a runtime the plugin cannot do anything at all; there is no useful recovery.
        .unwrap_or_else(|err| panic!("cannot start the kvssrc tokio runtime: {err}"))
});
