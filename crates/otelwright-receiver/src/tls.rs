//! TLS for the receiver: [`ReceiverTls`] (the server certificate and, for mutual TLS, the CA that client
//! certificates must chain to) and [`TestPki`], a throwaway certificate authority with a server and a client
//! certificate for tests.
//!
//! ```no_run
//! use otelwright_receiver::{Receiver, ReceiverConfig};
//! use otelwright_receiver::tls::{ReceiverTls, TestPki};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let pki = TestPki::generate()?;
//! let files = pki.write_to(&std::env::temp_dir().join("otelwright-pki"))?;
//! let receiver = Receiver::start_tls(ReceiverConfig::default(), ReceiverTls::mutual(&pki)).await?;
//! // receiver.grpc_endpoint() is "https://127.0.0.1:PORT"; point the exporter at it with
//! // OTEL_EXPORTER_OTLP_CERTIFICATE=files.ca, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=files.client_cert and
//! // OTEL_EXPORTER_OTLP_CLIENT_KEY=files.client_key.
//! # let _ = (files, receiver);
//! # Ok(())
//! # }
//! ```
//!
//! The server side uses rustls with the aws-lc-rs provider passed explicitly, so no process-wide default
//! `CryptoProvider` has to be installed.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::fault::FaultyStream;
use crate::store::Store;

/// How long a client gets to complete the TLS handshake before its connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many handshakes run at once per listener; further connections wait in the kernel's backlog.
const MAX_PENDING_HANDSHAKES: usize = 256;

/// ALPN protocol id for HTTP/2 (gRPC).
pub(crate) const ALPN_H2: &[u8] = b"h2";
/// ALPN protocol id for HTTP/1.1 (the OTLP/HTTP server speaks HTTP/1 only).
pub(crate) const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A throwaway public key infrastructure for tests: a self-signed CA, a server certificate for `localhost`,
/// `127.0.0.1` and `::1`, and a client certificate (for mutual TLS), both signed by the CA.
///
/// Every call to [`generate`](TestPki::generate) makes a new, unrelated CA (fresh keys, its own name), so two `TestPki`s can
/// show that a client trusting one CA rejects a server whose certificate comes from the other. Keys are ECDSA
/// P-256 in PKCS#8 PEM; certificates are PEM.
#[derive(Clone)]
pub struct TestPki {
    /// The CA certificate (PEM): what clients trust, and what the receiver checks client certificates against.
    pub ca_pem: String,
    /// The server certificate (PEM), with DNS SAN `localhost` and IP SANs `127.0.0.1` and `::1`.
    pub server_cert_pem: String,
    /// The server certificate's private key (PKCS#8 PEM).
    pub server_key_pem: String,
    /// The client certificate (PEM), for mutual TLS.
    pub client_cert_pem: String,
    /// The client certificate's private key (PKCS#8 PEM).
    pub client_key_pem: String,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// Where [`TestPki::write_to`] put the PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPkiFiles {
    /// `ca.pem`: the CA certificate (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub ca: PathBuf,
    /// `server.pem`: the server certificate.
    pub server_cert: PathBuf,
    /// `server-key.pem`: the server key.
    pub server_key: PathBuf,
    /// `client.pem`: the client certificate (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`).
    pub client_cert: PathBuf,
    /// `client-key.pem`: the client key (`OTEL_EXPORTER_OTLP_CLIENT_KEY`).
    pub client_key: PathBuf,
}

fn pki_error(err: rcgen::Error) -> io::Error {
    io::Error::other(format!("generating the test PKI: {err}"))
}

/// A certificate for `common_name` (and the subject alternative names `names`) signed by `ca`, for `usage`
/// (server or client authentication), with its new key.
fn leaf(
    ca: &Issuer<'_, KeyPair>,
    common_name: &str,
    names: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> io::Result<(rcgen::Certificate, KeyPair)> {
    let key = KeyPair::generate().map_err(pki_error)?;
    let mut params = CertificateParams::new(names).map_err(pki_error)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, ca).map_err(pki_error)?;
    Ok((cert, key))
}

impl TestPki {
    /// Generates a new CA and a server and a client certificate signed by it.
    ///
    /// Errors only if key generation or signing fails in the crypto library.
    pub fn generate() -> io::Result<TestPki> {
        let ca_key = KeyPair::generate().map_err(pki_error)?;
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = rcgen::DistinguishedName::new();
        // A name of its own per CA (from its public key), so a certificate from another TestPki's CA is
        // reported as from an unknown issuer rather than as a bad signature by a same-named CA.
        let id: String = ca_key.public_key_raw().iter().rev().take(6).map(|b| format!("{b:02x}")).collect();
        ca_params.distinguished_name.push(DnType::CommonName, format!("otelwright test CA {id}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(pki_error)?;
        let ca = Issuer::new(ca_params, ca_key);

        let server_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        let (server_cert, server_key) = leaf(&ca, "localhost", server_names, ExtendedKeyUsagePurpose::ServerAuth)?;
        let (client_cert, client_key) =
            leaf(&ca, "otelwright test client", Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)?;

        Ok(TestPki {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        })
    }

    /// The client certificate followed by its key in one PEM string, the form some clients take an identity in
    /// (e.g. `reqwest::Identity::from_pem`).
    pub fn client_identity_pem(&self) -> String {
        format!("{}{}", self.client_cert_pem, self.client_key_pem)
    }

    /// Writes the five PEM files into `dir` (created if missing) as `ca.pem`, `server.pem`, `server-key.pem`,
    /// `client.pem` and `client-key.pem`, replacing files of those names, and returns their paths.
    pub fn write_to(&self, dir: &Path) -> io::Result<TestPkiFiles> {
        std::fs::create_dir_all(dir)?;
        let files = TestPkiFiles {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
        };
        std::fs::write(&files.ca, &self.ca_pem)?;
        std::fs::write(&files.server_cert, &self.server_cert_pem)?;
        std::fs::write(&files.server_key, &self.server_key_pem)?;
        std::fs::write(&files.client_cert, &self.client_cert_pem)?;
        std::fs::write(&files.client_key, &self.client_key_pem)?;
        Ok(files)
    }
}

/// The receiver's TLS settings, for [`Receiver::start_tls`](crate::Receiver::start_tls).
#[derive(Clone)]
pub struct ReceiverTls {
    /// The server certificate, followed by any intermediates (PEM).
    pub cert_chain_pem: String,
    /// The server certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
    /// With `Some`, mutual TLS: every client must present a certificate that chains to one of these CA
    /// certificates (PEM), or the handshake fails. With `None`, clients are not asked for a certificate.
    pub client_ca_pem: Option<String>,
}

impl fmt::Debug for ReceiverTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverTls")
            .field("cert_chain_pem", &self.cert_chain_pem)
            .field("key_pem", &"<redacted>")
            .field("client_ca_pem", &self.client_ca_pem)
            .finish()
    }
}

impl ReceiverTls {
    /// Server-side TLS with this certificate chain and key; clients are not asked for a certificate.
    pub fn new(cert_chain_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        Self { cert_chain_pem: cert_chain_pem.into(), key_pem: key_pem.into(), client_ca_pem: None }
    }

    /// Requires client certificates signed by this CA (PEM, one or more certificates): mutual TLS.
    pub fn with_client_ca(mut self, client_ca_pem: impl Into<String>) -> Self {
        self.client_ca_pem = Some(client_ca_pem.into());
        self
    }

    /// The test PKI's server certificate and key, without client authentication.
    pub fn server_only(pki: &TestPki) -> Self {
        Self::new(pki.server_cert_pem.clone(), pki.server_key_pem.clone())
    }

    /// The test PKI's server certificate and key, requiring a client certificate signed by the test CA.
    pub fn mutual(pki: &TestPki) -> Self {
        Self::server_only(pki).with_client_ca(pki.ca_pem.clone())
    }

    /// Whether client certificates are required.
    pub fn is_mutual(&self) -> bool {
        self.client_ca_pem.is_some()
    }

    /// Builds the rustls server configuration, offering `alpn` as the only application protocol.
    pub(crate) fn server_config(&self, alpn: &[u8]) -> io::Result<Arc<ServerConfig>> {
        let certs = CertificateDer::pem_slice_iter(self.cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("invalid server certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(invalid("no certificate in the server certificate PEM".to_owned()));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| invalid(format!("invalid server key PEM: {e}")))?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS protocol versions: {e}")))?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca_pem) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
                    let cert = cert.map_err(|e| invalid(format!("invalid client CA PEM: {e}")))?;
                    roots.add(cert).map_err(|e| invalid(format!("unusable client CA certificate: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(invalid("no certificate in the client CA PEM".to_owned()));
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| invalid(format!("client certificate verifier: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| invalid(format!("server certificate and key do not match or are unusable: {e}")))?;
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(Arc::new(config))
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// A TCP listener that completes TLS handshakes off the accept path: each accepted connection is handshaken in
/// its own task (with [`HANDSHAKE_TIMEOUT`]), and [`accept`](TlsListener::accept) yields connections whose
/// handshake succeeded. Failed or timed-out handshakes are logged at debug and dropped.
pub(crate) struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    store: Arc<Store>,
    handshakes: JoinSet<Option<(TlsConn, SocketAddr)>>,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, config: Arc<ServerConfig>, store: Arc<Store>) -> Self {
        Self { tcp, acceptor: TlsAcceptor::from(config), store, handshakes: JoinSet::new() }
    }

    /// The next connection with a completed handshake. Never fails: accept errors are logged and retried.
    ///
    /// Cancel-safe: pending handshakes stay in the listener.
    pub(crate) async fn accept(&mut self) -> (TlsConn, SocketAddr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept(), if self.handshakes.len() < MAX_PENDING_HANDSHAKES => match accepted {
                    // Connections accepted while the fault is `Refuse` are closed at once.
                    Ok(_) if self.store.fault.refusing() => self.store.fault.hit(),
                    Ok((stream, addr)) => {
                        let _ = stream.set_nodelay(true);
                        let stream = FaultyStream::new(stream, Arc::clone(&self.store));
                        self.handshakes.spawn(handshake(self.acceptor.clone(), stream, addr));
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "otlp receiver: accept failed");
                        if !is_connection_error(&err) {
                            // Out of file descriptors and the like: back off instead of spinning.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                },
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(conn)) = done {
                        return conn;
                    }
                }
            }
        }
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Errors that concern one connection only (the listener itself is fine).
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

async fn handshake(acceptor: TlsAcceptor, stream: FaultyStream, addr: SocketAddr) -> Option<(TlsConn, SocketAddr)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some((TlsConn { inner: stream }, addr)),
        Ok(Err(err)) => {
            tracing::debug!(%addr, error = %err, "otlp receiver: TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%addr, timeout = ?HANDSHAKE_TIMEOUT, "otlp receiver: TLS handshake timed out");
            None
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        TlsListener::accept(self).await
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        TlsListener::local_addr(self)
    }
}

/// A server-side TLS connection (over a [`FaultyStream`]), with the connect info tonic wants.
pub(crate) struct TlsConn {
    inner: tokio_rustls::server::TlsStream<FaultyStream>,
}

impl AsyncRead for TlsConn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.get_ref().0.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pki_builds_server_configs() {
        let pki = TestPki::generate().unwrap();
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.server_key_pem.contains("PRIVATE KEY"));
        let config = ReceiverTls::mutual(&pki).server_config(ALPN_H2).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        let config = ReceiverTls::server_only(&pki).server_config(ALPN_HTTP1).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_ne!(TestPki::generate().unwrap().ca_pem, pki.ca_pem);
    }

    #[test]
    fn bad_pem_is_an_error_not_a_panic() {
        let pki = TestPki::generate().unwrap();
        let other = TestPki::generate().unwrap();
        let cases = [
            ReceiverTls::new("", pki.server_key_pem.clone()),
            ReceiverTls::new("garbage", "garbage"),
            ReceiverTls::new(pki.server_cert_pem.clone(), ""),
            // Key of another certificate.
            ReceiverTls::new(pki.server_cert_pem.clone(), other.server_key_pem.clone()),
            ReceiverTls::server_only(&pki).with_client_ca(""),
            ReceiverTls::server_only(&pki)
                .with_client_ca("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        ];
        for tls in cases {
            let err = tls.server_config(ALPN_H2).expect_err("must be rejected");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        }
    }

    #[test]
    fn write_to_writes_five_files() {
        let pki = TestPki::generate().unwrap();
        let dir = std::env::temp_dir().join(format!("otelwright-receiver-pki-{}", std::process::id()));
        let files = pki.write_to(&dir).unwrap();
        assert_eq!(files.ca, dir.join("ca.pem"));
        assert_eq!(std::fs::read_to_string(&files.ca).unwrap(), pki.ca_pem);
        assert_eq!(std::fs::read_to_string(&files.server_cert).unwrap(), pki.server_cert_pem);
        assert_eq!(std::fs::read_to_string(&files.server_key).unwrap(), pki.server_key_pem);
        assert_eq!(std::fs::read_to_string(&files.client_cert).unwrap(), pki.client_cert_pem);
        assert_eq!(std::fs::read_to_string(&files.client_key).unwrap(), pki.client_key_pem);
        assert!(pki.client_identity_pem().contains("PRIVATE KEY"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_hides_keys() {
        let pki = TestPki::generate().unwrap();
        assert!(!format!("{pki:?}").contains("PRIVATE KEY"));
        assert!(!format!("{:?}", ReceiverTls::mutual(&pki)).contains("PRIVATE KEY"));
    }
}
