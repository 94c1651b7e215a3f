//! A static, std-only health probe for images without a shell or curl (the collector image is `FROM scratch`).
//!
//! Built by the repository's Dockerfile (`rustc -C target-feature=+crt-static`) and shared with the containers that
//! need it through the `healthcheck` volume of docker-compose.yml:
//!
//! ```text
//! healthcheck http://127.0.0.1:13133/      exit 0 when GET answers 2xx
//! healthcheck tcp://127.0.0.1:50051        exit 0 when the port accepts a connection
//! ```
//!
//! The host must be an IP literal (no DNS: a static binary has no resolver). Every step has a timeout, so a hung
//! server fails the check instead of hanging it. tests/tests/config_checks/collector_healthcheck.rs compiles this file as a module
//! and runs it against real sockets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// What to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `GET path` must answer with a 2xx status.
    Http {
        /// Where to connect.
        addr: SocketAddr,
        /// Request path, starting with `/`.
        path: String,
    },
    /// The port must accept a TCP connection.
    Tcp {
        /// Where to connect.
        addr: SocketAddr,
    },
}

/// Parses `http://IP:PORT/path` or `tcp://IP:PORT`.
pub fn parse_target(url: &str) -> Result<Target, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("{url}: expected http:// or tcp://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr =
        authority.parse().map_err(|_| format!("{url}: {authority} is not IP:PORT (no DNS in the probe)"))?;
    match scheme {
        "http" => Ok(Target::Http { addr, path: path.to_owned() }),
        "tcp" if path == "/" => Ok(Target::Tcp { addr }),
        "tcp" => Err(format!("{url}: a tcp target has no path")),
        _ => Err(format!("{url}: unsupported scheme {scheme}")),
    }
}

/// Probes `target`; `Ok` carries a one-line description of the success.
pub fn probe(target: &Target, timeout: Duration) -> Result<String, String> {
    match target {
        Target::Tcp { addr } => {
            TcpStream::connect_timeout(addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
            Ok(format!("{addr} accepts connections"))
        }
        Target::Http { addr, path } => {
            let mut stream = TcpStream::connect_timeout(addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
            stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
            stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: otelwright-healthcheck\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).map_err(|e| format!("write {addr}: {e}"))?;
            let mut head = Vec::with_capacity(256);
            let mut buf = [0u8; 256];
            // The status line is all we need; stop at its end or after 4 KiB.
            while !head.contains(&b'\n') && head.len() < 4096 {
                let n = stream.read(&mut buf).map_err(|e| format!("read {addr}: {e}"))?;
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let line = String::from_utf8_lossy(&head);
            let line = line.lines().next().unwrap_or_default().trim();
            let status = status_code(line).ok_or_else(|| format!("{addr}{path}: not an HTTP response: {line:?}"))?;
            if (200..300).contains(&status) {
                Ok(format!("{addr}{path}: {status}"))
            } else {
                Err(format!("{addr}{path}: {line}"))
            }
        }
    }
}

/// The status code of an HTTP/1.x status line.
pub fn status_code(line: &str) -> Option<u16> {
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// Runs the probe for the command-line arguments (without the program name).
pub fn run(args: &[String]) -> ExitCode {
    let [url] = args else {
        eprintln!("usage: healthcheck http://IP:PORT/path | tcp://IP:PORT");
        return ExitCode::from(2);
    };
    match parse_target(url).and_then(|t| probe(&t, Duration::from_secs(3))) {
        Ok(msg) => {
            println!("healthy: {msg}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("unhealthy: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Entry point of the standalone binary.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args)
}
