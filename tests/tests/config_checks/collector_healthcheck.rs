//! The static health probe that docker-compose.yml runs in shell-less images (collector-config/healthcheck/
//! healthcheck.rs), compiled here as a module and run against real sockets: a 2xx passes, a 503 and a non-HTTP
//! answer fail, a closed port fails fast, a server that never answers fails within the timeout, `tcp://` checks
//! only the connection, and bad targets are rejected without touching the network.

use crate::healthcheck;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use healthcheck::{Target, parse_target, probe, status_code};

/// Serves `response` to each of `n` connections (after reading the request head), on 127.0.0.1:0.
fn serve(response: &'static [u8], n: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 1024];
            let mut head = Vec::new();
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = stream.read(&mut buf).unwrap();
                if read == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..read]);
            }
            assert!(head.starts_with(b"GET /ready HTTP/1.1\r\n"), "{}", String::from_utf8_lossy(&head));
            stream.write_all(response).unwrap();
        }
    });
    addr
}

#[test]
fn parses_targets_and_rejects_what_it_cannot_probe() {
    assert_eq!(
        parse_target("http://127.0.0.1:13133/").unwrap(),
        Target::Http { addr: "127.0.0.1:13133".parse().unwrap(), path: "/".into() }
    );
    assert_eq!(
        parse_target("http://127.0.0.1:3200/ready").unwrap(),
        Target::Http { addr: "127.0.0.1:3200".parse().unwrap(), path: "/ready".into() }
    );
    assert_eq!(
        parse_target("http://[::1]:8000").unwrap(),
        Target::Http { addr: "[::1]:8000".parse().unwrap(), path: "/".into() }
    );
    assert_eq!(
        parse_target("tcp://127.0.0.1:50051").unwrap(),
        Target::Tcp { addr: "127.0.0.1:50051".parse().unwrap() }
    );
    for bad in [
        "localhost:13133",
        "http://localhost:13133/",
        "https://127.0.0.1:1/",
        "tcp://127.0.0.1:1/x",
        "http://127.0.0.1/",
    ] {
        assert!(parse_target(bad).is_err(), "{bad} should be rejected");
    }
    assert_eq!(status_code("HTTP/1.1 200 OK"), Some(200));
    assert_eq!(status_code("HTTP/1.0 503 Service Unavailable"), Some(503));
    assert_eq!(status_code("SSH-2.0-OpenSSH"), None);
    assert_eq!(status_code("HTTP/1.1 20 OK"), None);
}

#[test]
fn http_probe_passes_on_2xx_only() {
    let timeout = Duration::from_secs(3);
    let ok = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1);
    let target = parse_target(&format!("http://{ok}/ready")).unwrap();
    assert!(probe(&target, timeout).unwrap().ends_with("/ready: 200"));

    let unavailable = serve(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", 1);
    let err = probe(&parse_target(&format!("http://{unavailable}/ready")).unwrap(), timeout).unwrap_err();
    assert!(err.contains("503"), "{err}");

    let garbage = serve(b"not http at all\r\n", 1);
    let err = probe(&parse_target(&format!("http://{garbage}/ready")).unwrap(), timeout).unwrap_err();
    assert!(err.contains("not an HTTP response"), "{err}");
}

#[test]
fn closed_and_silent_ports_fail_within_the_timeout() {
    // A port that was just released: connection refused.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let err = probe(&Target::Http { addr: closed, path: "/".into() }, Duration::from_secs(3)).unwrap_err();
    assert!(err.contains("connect"), "{err}");
    assert!(probe(&Target::Tcp { addr: closed }, Duration::from_secs(3)).is_err());

    // A server that accepts but never answers: the read timeout ends the probe.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    // The probe runs on its own thread so that a hang fails the test instead of stalling it (a guard, not a
    // measurement); the read timeout is what ends it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(probe(&Target::Http { addr, path: "/".into() }, Duration::from_millis(300))));
    let err = rx.recv_timeout(Duration::from_secs(20)).expect("the probe ends").unwrap_err();
    assert!(err.contains("read"), "{err}");
    // ...while a tcp:// probe of the same port passes: it only needs the connection.
    assert!(probe(&Target::Tcp { addr }, Duration::from_secs(3)).is_ok());
    drop(silent);
}

#[test]
fn run_maps_outcomes_to_exit_codes() {
    use std::process::ExitCode;
    let ok = serve(b"HTTP/1.1 204 No Content\r\n\r\n", 1);
    assert_eq!(healthcheck::run(&[format!("http://{ok}/ready")]), ExitCode::SUCCESS);
    assert_eq!(healthcheck::run(&[]), ExitCode::from(2));
    assert_eq!(healthcheck::run(&["nonsense".into()]), ExitCode::FAILURE);
}
