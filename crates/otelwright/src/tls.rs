//! PEM files for OTLP over TLS: read once when the configuration is read (so a bad file is a warning naming the
//! variable) and again when the exporters are built.

use std::path::Path;

#[cfg(feature = "tls")]
use rustls::pki_types::CertificateDer;

/// What a PEM file must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pem {
    /// One or more `CERTIFICATE` sections (a CA bundle or a client's chain).
    Certificates,
    /// One private key (PKCS#8, PKCS#1 or SEC1).
    PrivateKey,
}

/// Larger than any certificate bundle in practice; a guard against pointing the variable at the wrong file.
const MAX_PEM_BYTES: u64 = 4 << 20;

/// Reads `path` and checks that it holds what `kind` asks for. The error is a short reason for a warning.
pub(crate) fn read_pem(path: &Path, kind: Pem) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read the file ({e})");
    // Only regular files: a device (`/dev/zero`) or a FIFO would never end or never open.
    if !std::fs::metadata(path).map_err(cannot)?.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes)).map_err(cannot)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(format!("the file is over {MAX_PEM_BYTES} bytes, too large for PEM certificates or a key"));
    }
    check(&bytes, kind)?;
    Ok(bytes)
}

#[cfg(feature = "tls")]
fn check(bytes: &[u8], kind: Pem) -> Result<(), String> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    match kind {
        Pem::Certificates => {
            let mut count = 0;
            for cert in CertificateDer::pem_slice_iter(bytes) {
                cert.map_err(|e| format!("not a valid PEM certificate file ({e})"))?;
                count += 1;
            }
            if count == 0 {
                return Err("no PEM CERTIFICATE section in the file".to_owned());
            }
            Ok(())
        }
        Pem::PrivateKey => PrivateKeyDer::from_pem_slice(bytes)
            .map(drop)
            .map_err(|e| format!("no usable PEM private key in the file ({e})")),
    }
}

/// The PEM contents one `https` exporter is built with.
#[cfg(feature = "tls")]
pub(crate) struct Pems {
    /// Trusted CAs replacing the system's trust store.
    pub(crate) ca: Option<Vec<u8>>,
    /// Client certificate chain and key, for mutual TLS.
    pub(crate) identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// Where trusted roots come from when no CA file is given: [`system_roots`], or a fixed list in tests. A function,
/// so the store is loaded only by an exporter that needs it.
#[cfg(feature = "tls")]
pub(crate) type Roots = fn() -> &'static [CertificateDer<'static>];

/// The system's trust store, loaded once per process (about 10 ms) and shared by every exporter.
#[cfg(feature = "tls")]
pub(crate) fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: std::sync::OnceLock<Vec<CertificateDer<'static>>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// Why an `https` exporter without a CA file cannot verify anyone, if that is so: the system's trust store is
/// empty (an image without a CA bundle). The exporter is still built, so the service runs; its exports fail and
/// are counted until a CA file is configured.
#[cfg(feature = "tls")]
pub(crate) fn missing_roots_warning(pems: &Pems, roots: Roots) -> Option<String> {
    (pems.ca.is_none() && roots().is_empty()).then(|| {
        "unset, and the system's trust store is empty (no CA bundle in this image?): https exports will fail until \
         this names a CA file"
            .to_owned()
    })
}

/// tonic's TLS settings: the given CAs or the system's trust store, and the client identity. Built from the
/// shared store rather than tonic's `with_native_roots`, which reloads it per exporter and fails the build when
/// it is empty.
#[cfg(feature = "tls")]
pub(crate) fn grpc(pems: Pems, roots: Roots) -> tonic::transport::ClientTlsConfig {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let config = match pems.ca {
        Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)),
        None => ClientTlsConfig::new().trust_anchors(
            roots().iter().filter_map(|cert| webpki::anchor_from_trusted_cert(cert).ok().map(|a| a.to_owned())),
        ),
    };
    match pems.identity {
        Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
        None => config,
    }
}

/// Applies the trust and identity settings to a reqwest client builder (blocking or async, which share the
/// methods but not a type). For `https` (`pems` is `Some`) it trusts the given CAs (only them) or the system's
/// trust store (the shared copy), and presents the client identity. For `http` it trusts nothing: it never needs
/// to, and loading the system's trust store (about 13 ms here) would be most of `init`.
#[cfg(feature = "tls")]
macro_rules! configure_reqwest {
    ($builder:expr, $pems:expr, $roots:expr) => {{
        let builder = $builder;
        match $pems {
            None => Ok(builder.tls_certs_only([])),
            Some(pems) => (|| {
                let mut builder = match pems.ca {
                    Some(ca) => builder.tls_certs_only(
                        reqwest::Certificate::from_pem_bundle(&ca).map_err(|e| format!("CA certificates: {e}"))?,
                    ),
                    // The shared store, as for gRPC (reqwest's platform verifier would load its own copy, and fail
                    // the build when the store is empty; an empty list here builds, and each export fails).
                    None => builder.tls_certs_only(
                        $roots().iter().filter_map(|cert| reqwest::Certificate::from_der(cert.as_ref()).ok()),
                    ),
                };
                if let Some((cert, key)) = pems.identity {
                    let identity = reqwest::Identity::from_pem(&[cert, b"\n".to_vec(), key].concat())
                        .map_err(|e| format!("client certificate and key: {e}"))?;
                    builder = builder.identity(identity);
                }
                Ok::<_, String>(builder)
            })(),
        }
    }};
}

/// The blocking reqwest client opentelemetry-otlp's OTLP/HTTP exporter sends with (HTTP/JSON, and metrics), set
/// up by `configure_reqwest`. Built on its own thread: the blocking client starts a runtime of its own, which must
/// not happen inside the caller's async context.
#[cfg(feature = "tls")]
pub(crate) fn http_client(
    pems: Option<Pems>,
    roots: Roots,
    timeout: std::time::Duration,
    signal: crate::Signal,
) -> Result<reqwest::blocking::Client, crate::Error> {
    let failed = |reason: String| crate::Error::Exporter { signal: signal.as_str(), reason };
    let build = move || -> Result<reqwest::blocking::Client, String> {
        let builder = configure_reqwest!(reqwest::blocking::Client::builder().timeout(timeout), pems, roots)?;
        builder.build().map_err(|e| format!("the HTTP client could not be built: {e}"))
    };
    std::thread::Builder::new()
        .name("otelwright-tls-client".into())
        .spawn(build)
        .map_err(|e| failed(format!("could not start a thread to build the HTTPS client: {e}")))?
        .join()
        .map_err(|_| failed("building the HTTPS client panicked".to_owned()))?
        .map_err(failed)
}

/// The async reqwest client otelwright's own OTLP/HTTP export sends with, on the export runtime: the same trust and
/// identity as [`http_client`], the export timeout per request, and the exporter's User-Agent.
#[cfg(feature = "tls")]
pub(crate) fn http_async_client(
    pems: Option<Pems>,
    roots: Roots,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, String> {
    let builder = reqwest::Client::builder().timeout(timeout).user_agent(crate::export::transport::USER_AGENT);
    let builder = configure_reqwest!(builder, pems, roots)?;
    builder.build().map_err(|e| format!("the HTTP client could not be built: {e}"))
}

#[cfg(not(feature = "tls"))]
fn check(_: &[u8], _: Pem) -> Result<(), String> {
    Err("this build of otelwright leaves out the `tls` feature".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, contents: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("otelwright-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn missing_empty_and_wrong_files_are_refused_with_a_reason() {
        let missing = read_pem(Path::new("/nonexistent/ca.pem"), Pem::Certificates).unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
        let empty = read_pem(&file("empty.pem", b""), Pem::Certificates).unwrap_err();
        assert!(empty.contains("no PEM CERTIFICATE"), "{empty}");
        let text = read_pem(&file("text.pem", b"hello\n"), Pem::PrivateKey).unwrap_err();
        assert!(text.contains("private key"), "{text}");
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
        let broken = read_pem(&file("broken.pem", broken), Pem::Certificates).unwrap_err();
        assert!(broken.contains("not a valid PEM"), "{broken}");
    }

    /// An image without a CA bundle: both exporters still build (the service keeps running), and it is said.
    #[cfg(feature = "tls")]
    #[test]
    fn an_empty_trust_store_builds_and_warns() {
        use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
        let pems = || Pems { ca: None, identity: None };
        assert!(missing_roots_warning(&pems(), || &[]).is_some_and(|w| w.contains("trust store is empty")));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _entered = runtime.enter();
        let grpc = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint("https://127.0.0.1:1")
            .with_tls_config(grpc(pems(), || &[]))
            .build();
        assert!(grpc.is_ok(), "{:?}", grpc.err());
        let http = http_client(Some(pems()), || &[], std::time::Duration::from_secs(1), crate::Signal::Traces);
        assert!(http.is_ok(), "{:?}", http.err());
        let http = http_async_client(Some(pems()), || &[], std::time::Duration::from_secs(1));
        assert!(http.is_ok(), "{:?}", http.err());
        let ca = Pems { ca: Some(Vec::new()), identity: None };
        assert!(
            missing_roots_warning(&ca, || panic!("the store is not loaded when a CA file is given")).is_none(),
            "a CA file needs no system store"
        );
    }

    #[test]
    fn directories_and_devices_are_refused() {
        for path in [std::env::temp_dir(), "/dev/zero".into()] {
            let reason = read_pem(&path, Pem::Certificates).unwrap_err();
            assert!(reason.contains("regular file"), "{}: {reason}", path.display());
        }
    }
}
