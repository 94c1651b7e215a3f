//! The built-in HTTP load generator: N keep-alive HTTP/1.1 connections over loopback, one request in flight per
//! connection (closed loop at a fixed concurrency), or paced to a total rate. A raw tokio client with a
//! hand-rolled response reader (status line and `Content-Length`) so the generator spends as little CPU per
//! request as possible: on a small machine its cost competes with the service's. Latency is recorded per request
//! in microseconds and sorted once per run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::stats::percentile;

/// Which handler the requests go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Handler {
    /// `GET /hello`: a fixed string.
    Hello,
    /// `GET /orders/{id}`: ~1 ms of async work in a child span, a cache lookup, a log line and a JSON body.
    Realistic,
}

impl Handler {
    /// The name used in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Handler::Hello => "hello",
            Handler::Realistic => "realistic",
        }
    }

    /// The route as the service declares it.
    pub(crate) fn route(self) -> &'static str {
        match self {
            Handler::Hello => "GET /hello",
            Handler::Realistic => "GET /orders/{id}",
        }
    }

    fn request(self, n: u64) -> Vec<u8> {
        match self {
            Handler::Hello => b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec(),
            Handler::Realistic => format!("GET /orders/{} HTTP/1.1\r\nHost: bench\r\n\r\n", n % 1000).into_bytes(),
        }
    }
}

/// When a run ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stop {
    /// After this long.
    After(Duration),
    /// After this many requests in total.
    Requests(u64),
}

/// What one run measured.
#[derive(Debug, Default)]
pub(crate) struct LoadResult {
    /// Requests answered with a 2xx status.
    pub(crate) ok: u64,
    /// Requests that failed: transport error or non-2xx status.
    pub(crate) errors: u64,
    /// Wall time of the run.
    pub(crate) elapsed: Duration,
    /// Latency of each successful request in microseconds, sorted.
    pub(crate) latencies_us: Vec<u32>,
}

impl LoadResult {
    /// Successful requests per second.
    pub(crate) fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Mean latency in microseconds.
    pub(crate) fn mean_latency_us(&self) -> f64 {
        let sum: u64 = self.latencies_us.iter().map(|&l| u64::from(l)).sum();
        sum as f64 / self.latencies_us.len().max(1) as f64
    }

    /// A latency quantile in microseconds.
    pub(crate) fn latency_us(&self, q: f64) -> f64 {
        f64::from(percentile(&self.latencies_us, q))
    }
}

/// One keep-alive connection and its read buffer.
struct Conn {
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

/// A set of connections to one server.
pub(crate) struct LoadGen {
    addr: SocketAddr,
    conns: Vec<Conn>,
}

impl LoadGen {
    /// Opens `connections` connections to `addr`.
    pub(crate) async fn connect(addr: SocketAddr, connections: usize) -> std::io::Result<LoadGen> {
        let mut conns = Vec::with_capacity(connections);
        for _ in 0..connections.max(1) {
            conns.push(Conn { stream: Some(open(addr).await?), buf: Vec::with_capacity(4096) });
        }
        Ok(LoadGen { addr, conns })
    }

    /// Sends requests to `handler` on every connection until `stop`; with `rate`, paces the connections to that
    /// many requests per second in total, otherwise each sends its next request as soon as the last is answered.
    pub(crate) async fn run(&mut self, handler: Handler, stop: Stop, rate: Option<f64>) -> LoadResult {
        let n = self.conns.len();
        let start = Instant::now();
        let issued = Arc::new(AtomicU64::new(0));
        let interval = rate.map(|r| Duration::from_secs_f64(n as f64 / r.max(1e-3)));
        let mut tasks = Vec::with_capacity(n);
        for (i, conn) in self.conns.drain(..).enumerate() {
            let issued = issued.clone();
            let addr = self.addr;
            let first = start + interval.map_or(Duration::ZERO, |iv| iv.mul_f64(i as f64 / n as f64));
            tasks.push(tokio::spawn(drive(conn, addr, handler, stop, start, first, interval, issued, i as u64)));
        }
        let mut result = LoadResult::default();
        for task in tasks {
            if let Ok((conn, part)) = task.await {
                self.conns.push(conn);
                result.ok += part.ok;
                result.errors += part.errors;
                result.latencies_us.extend(part.latencies_us);
            }
        }
        result.elapsed = start.elapsed();
        result.latencies_us.sort_unstable();
        result
    }
}

async fn open(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    mut conn: Conn,
    addr: SocketAddr,
    handler: Handler,
    stop: Stop,
    start: Instant,
    first: Instant,
    interval: Option<Duration>,
    issued: Arc<AtomicU64>,
    index: u64,
) -> (Conn, LoadResult) {
    let mut part = LoadResult { latencies_us: Vec::with_capacity(1 << 14), ..LoadResult::default() };
    let mut next = first;
    let mut seq = index * 7919;
    loop {
        match stop {
            Stop::After(d) if start.elapsed() >= d => break,
            Stop::Requests(total) if issued.fetch_add(1, Ordering::Relaxed) >= total => break,
            _ => {}
        }
        if let Some(iv) = interval {
            tokio::time::sleep_until(next).await;
            next = (next + iv).max(Instant::now());
        }
        seq += 1;
        let stream = match conn.stream.as_mut() {
            Some(s) => s,
            None => match open(addr).await {
                Ok(s) => conn.stream.insert(s),
                Err(_) => {
                    part.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let sent = Instant::now();
        match exchange(stream, &mut conn.buf, &handler.request(seq)).await {
            Ok(status) if (200..300).contains(&status) => {
                part.ok += 1;
                part.latencies_us.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            }
            Ok(_) => part.errors += 1,
            Err(_) => {
                part.errors += 1;
                conn.stream = None;
            }
        }
    }
    (conn, part)
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Writes one request and reads one whole response; returns its status code.
async fn exchange(stream: &mut TcpStream, buf: &mut Vec<u8>, request: &[u8]) -> std::io::Result<u16> {
    stream.write_all(request).await?;
    buf.clear();
    let mut head: Option<(usize, usize)> = None;
    loop {
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        let searched = buf.len().saturating_sub(3);
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if head.is_none()
            && let Some(pos) = buf[searched..].windows(4).position(|w| w == b"\r\n\r\n")
        {
            let end = searched + pos + 4;
            head = Some((end, content_length(&buf[..end])?));
        }
        if let Some((end, len)) = head
            && buf.len() >= end + len
        {
            return status(buf);
        }
    }
}

fn status(head: &[u8]) -> std::io::Result<u16> {
    head.get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status line"))
}

fn content_length(head: &[u8]) -> std::io::Result<usize> {
    let text = std::str::from_utf8(head).map_err(|_| invalid("response head is not UTF-8"))?;
    for line in text.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                return value.trim().parse().map_err(|_| invalid("bad Content-Length"));
            }
            if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(invalid("chunked responses are not supported by the load generator"));
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed() {
        let head = b"HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\nContent-Length: 12\r\n\r\n";
        assert_eq!(status(head).unwrap(), 201);
        assert_eq!(content_length(head).unwrap(), 12);
        assert_eq!(content_length(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap(), 0);
        assert!(content_length(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
    }

    #[tokio::test]
    async fn runs_against_a_real_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "Hello, world!" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut load = LoadGen::connect(addr, 4).await.unwrap();
        let r = load.run(Handler::Hello, Stop::Requests(200), None).await;
        assert_eq!((r.ok, r.errors), (200, 0));
        assert_eq!(r.latencies_us.len(), 200);
        let r = load.run(Handler::Realistic, Stop::After(Duration::from_millis(100)), Some(200.0)).await;
        assert_eq!(r.ok, 0, "no such route here");
        assert!(r.errors > 0 && r.errors < 60, "paced to ~20 requests in 100 ms: {}", r.errors);
    }
}
