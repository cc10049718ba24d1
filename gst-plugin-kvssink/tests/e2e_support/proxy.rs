// SPDX-License-Identifier: MPL-2.0
//! A TCP proxy in front of kvs-local that cuts chosen PutMedia connections as a network
//! failure would (both directions close without a response end): after a number of request
//! bytes, or right before a chosen ACK reaches the producer, so that the service has a
//! fragment whose acknowledgement is lost.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kvs_core::putmedia::{Ack, AckParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where one PutMedia connection is cut.
#[derive(Clone, Copy, Debug)]
pub enum Cut {
    /// After this many request bytes.
    AfterRequestBytes(u64),
    /// Just before the response carries its `nth` (1-based) ACK of this event type
    /// (`"RECEIVED"`, `"PERSISTED"`): the ACK is lost, everything before it arrives.
    BeforeAck { event: &'static str, nth: usize },
}

pub struct CutPlan {
    /// For the n-th PutMedia connection (0-based), where it is cut.
    pub cuts: Vec<(u64, Cut)>,
}

/// Counters the test reads afterwards.
#[derive(Default)]
pub struct ProxyStats {
    pub put_media_connections: AtomicU64,
    pub cuts_done: AtomicU64,
    /// The ACKs `Cut::BeforeAck` kept from the producer.
    pub lost_acks: Mutex<Vec<Ack>>,
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
    let cut = if first.starts_with(b"POST /putMedia") {
        let index = stats.put_media_connections.fetch_add(1, Ordering::SeqCst);
        plan.cuts
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, cut)| *cut)
    } else {
        None
    };
    match cut {
        None => {
            server.write_all(&first).await?;
            tokio::io::copy_bidirectional(&mut client, &mut server).await?;
            Ok(())
        }
        Some(Cut::AfterRequestBytes(limit)) => {
            cut_request(client, server, first, limit, stats).await
        }
        Some(Cut::BeforeAck { event, nth }) => {
            server.write_all(&first).await?;
            cut_before_ack(client, server, event, nth, stats).await
        }
    }
}

async fn cut_request(
    client: TcpStream,
    server: TcpStream,
    first: Vec<u8>,
    limit: u64,
    stats: &ProxyStats,
) -> std::io::Result<()> {
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

async fn cut_before_ack(
    client: TcpStream,
    server: TcpStream,
    event: &str,
    nth: usize,
    stats: &ProxyStats,
) -> std::io::Result<()> {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
    // ACKs are JSON objects without spaces, one per line; a line is forwarded once complete.
    let pattern = format!("\"EventType\":\"{event}\"");
    let mut seen = 0usize;
    let mut held: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = sr.read(&mut buf).await?;
        if n == 0 {
            up.abort();
            return Ok(());
        }
        held.extend_from_slice(&buf[..n]);
        let Some(complete) = held.iter().rposition(|b| *b == b'\n').map(|i| i + 1) else {
            continue;
        };
        let mut from = 0;
        while let Some(at) = find(&held[from..complete], pattern.as_bytes()).map(|i| i + from) {
            seen += 1;
            if seen == nth {
                let start = held[..at].iter().rposition(|b| *b == b'{').unwrap_or(at);
                cw.write_all(&held[..start]).await?;
                let end = held[at..]
                    .iter()
                    .position(|b| *b == b'}')
                    .map_or(held.len(), |i| at + i + 1);
                let lost = AckParser::new()
                    .push_and_drain(&held[start..end])
                    .into_iter()
                    .filter_map(Result::ok);
                stats.lost_acks.lock().expect("stats lock").extend(lost);
                // Dropping every half closes both sockets with the ACK unsent.
                up.abort();
                stats.cuts_done.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            from = at + pattern.len();
        }
        cw.write_all(&held[..complete]).await?;
        held.drain(..complete);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
