//! OTLP/gRPC: one unary `Export` call per request through tonic's client with a pass-through codec, so the bytes
//! the worker encoded are written as the message as they are (and resent as they are on a retry). The channel is
//! built as opentelemetry-otlp builds it: lazy, with the export timeout per call, TLS from `tls.rs`, gzip from
//! tonic; headers travel as metadata.

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::config::{Compression, ResolvedOtlp, Signal};

/// Writes pre-encoded bytes as the request message and hands back the response message's bytes.
#[derive(Clone, Copy, Debug, Default)]
struct PassThrough;

impl Codec for PassThrough {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = PassThrough;
    type Decoder = PassThrough;

    fn encoder(&mut self) -> Self::Encoder {
        PassThrough
    }

    fn decoder(&mut self) -> Self::Decoder {
        PassThrough
    }
}

impl Encoder for PassThrough {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.reserve(item.len());
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for PassThrough {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// A gRPC client for one signal's `Export` method.
#[derive(Debug)]
pub(crate) struct Grpc {
    client: tonic::client::Grpc<Channel>,
    path: PathAndQuery,
    metadata: MetadataMap,
}

impl Grpc {
    /// Builds the (lazily connecting) channel; must run inside the export runtime, where tonic spawns it.
    pub(crate) fn new(
        o: &ResolvedOtlp,
        signal: Signal,
        #[cfg(feature = "tls")] tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> Result<Grpc, String> {
        let endpoint = Endpoint::from_shared(o.endpoint.clone())
            .and_then(|e| e.user_agent(super::USER_AGENT))
            .map_err(|e| format!("invalid endpoint {:?}: {e}", o.endpoint))?
            .timeout(o.timeout);
        #[cfg(feature = "tls")]
        let endpoint = match tls {
            Some(tls) => endpoint.tls_config(tls).map_err(|e| format!("TLS settings: {e}"))?,
            None => endpoint,
        };
        let mut client = tonic::client::Grpc::new(endpoint.connect_lazy());
        if o.compression == Compression::Gzip {
            use tonic::codec::CompressionEncoding::Gzip;
            client = client.send_compressed(Gzip).accept_compressed(Gzip);
        }
        let mut metadata = MetadataMap::new();
        for (k, v) in &o.headers {
            // Names and values that cannot be gRPC metadata are left out, as before (the header parser warned).
            if let (Ok(k), Ok(v)) = (k.parse::<MetadataKey<_>>(), v.parse::<MetadataValue<_>>()) {
                metadata.insert(k, v);
            }
        }
        let path = match signal {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        };
        Ok(Grpc { client, path: PathAndQuery::from_static(path), metadata })
    }

    /// One attempt: the response message's bytes, or the call's status.
    pub(crate) async fn send(&self, body: Bytes) -> Result<Bytes, Status> {
        let mut client = self.client.clone();
        // As tonic's generated clients do: a channel that cannot take calls is `Unknown` (not retried).
        client.ready().await.map_err(|e| Status::unknown(format!("Service was not ready: {e}")))?;
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        Ok(client.unary(request, self.path.clone(), PassThrough).await?.into_inner())
    }
}
