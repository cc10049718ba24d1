// SPDX-License-Identifier: MPL-2.0
//! A TCP proxy in front of kvs-local that cuts chosen PutMedia connections after a number of
//! request bytes, as a network failure would: both directions close without a response end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct CutPlan {
    /// For the n-th PutMedia connection (0-based), the request bytes after which it is cut.
    pub cuts: Vec<(u64, u64)>,
}

/// Counters the test reads afterwards.
#[derive(Default)]
pub struct ProxyStats {
    pub put_media_connections: AtomicU64,
    pub cuts_done: AtomicU64,
}

/// Binds 127.0.0.1:0 now, so the address can be advertised before the server starts.
pub fn bind() -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy binds");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    listener
}

/// Forwards every connection on `listener` to `upstream`; call on a Tokio runtime.
pub fn serve(
    listener: std::net::TcpListener,
    upstream: SocketAddr,
    plan: CutPlan,
    stats: Arc<ProxyStats>,
) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::from_std(listener).expect("tokio listener");
    let plan = Arc::new(plan);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let plan = plan.clone();
            let stats = stats.clone();
            tokio::spawn(async move {
                let _ = forward(client, upstream, &plan, &stats).await;
            });
        }
    })
}

async fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    plan: &CutPlan,
    stats: &ProxyStats,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream).await?;
    let mut first = vec![0u8; 64 * 1024];
    let n = client.read(&mut first).await?;
    first.truncate(n);
    let limit = if first.starts_with(b"POST /putMedia") {
        let index = stats.put_media_connections.fetch_add(1, Ordering::SeqCst);
        plan.cuts
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, bytes)| *bytes)
    } else {
        None
    };
    let Some(limit) = limit else {
        server.write_all(&first).await?;
        tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        return Ok(());
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let down = tokio::spawn(async move { tokio::io::copy(&mut sr, &mut cw).await });
    let mut sent = 0u64;
    let mut buf = first;
    loop {
        let room = usize::try_from(limit.saturating_sub(sent)).unwrap_or(usize::MAX);
        let take = buf.len().min(room);
        sw.write_all(&buf[..take]).await?;
        sent += take as u64;
        if sent >= limit {
            break;
        }
        buf.resize(64 * 1024, 0);
        let n = cr.read(&mut buf).await?;
        if n == 0 {
            down.abort();
            return Ok(());
        }
        buf.truncate(n);
    }
    // Dropping every half closes both sockets mid-request.
    down.abort();
    stats.cuts_done.fetch_add(1, Ordering::SeqCst);
    Ok(())
}
