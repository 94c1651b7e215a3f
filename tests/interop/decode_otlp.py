"""OTLP decoded by another implementation: the official Python protobuf bindings (`opentelemetry-proto`, pinned in
requirements.txt) decode the payloads otelwright-receiver kept (tests/tests/interop_python.rs,
`otlp_payloads_decode_the_same_in_python`).

  python decode_otlp.py < requests.jsonl > decoded.jsonl

Each input line is {"signal": "traces"|"metrics"|"logs", "transport": "grpc"|"http/protobuf"|"http/json",
"body": hex of the payload as it arrived, decompressed}. Each output line is, in the same order, either
{"ok": true, "protobuf": hex of the decoded message serialized again (deterministic)} or {"ok": false,
"error": why}. A payload that fails to parse, or that leaves any field unknown to the .proto definitions, is an
error: the Rust side then compares the re-serialized message, decoded with prost, with its own decoding.
"""

import base64
import json
import sys

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.unknown_fields import UnknownFieldSet
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

REQUESTS = {
    "traces": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "logs": ExportLogsServiceRequest,
}

# OTLP specification, "JSON Protobuf Encoding": "trace_id and span_id [...] are represented as case-insensitive
# hex-encoded strings; they are not base64-encoded as is defined in the standard Protobuf JSON Mapping". The
# fields that hold such ids (Span, Span.Link, LogRecord, Exemplar).
HEX_IDS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def hex_ids_to_base64(value):
    """The OTLP/JSON document with its hex ids in the standard mapping's base64, for json_format."""
    if isinstance(value, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode() if k in HEX_IDS and isinstance(v, str) else hex_ids_to_base64(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [hex_ids_to_base64(v) for v in value]
    return value


def unknown_fields(message, path="request"):
    """Paths of every (sub)message that carries fields its .proto definition does not know."""
    found = [path] if len(UnknownFieldSet(message)) else []
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if hasattr(value, "ListFields"):
            values = [value]
        elif field.message_type.GetOptions().map_entry:
            values = value.values()
        else:
            values = value  # a repeated message field
        for i, v in enumerate(values):
            if hasattr(v, "ListFields"):
                found += unknown_fields(v, f"{path}.{field.name}[{i}]")
    return found


def decode(line):
    request = json.loads(line)
    message = REQUESTS[request["signal"]]()
    body = bytes.fromhex(request["body"])
    if request["transport"] == "http/json":
        # Strict: a key the .proto does not define is an error here (ignore_unknown_fields=False).
        json_format.ParseDict(hex_ids_to_base64(json.loads(body)), message)
    else:
        message.ParseFromString(body)
        unknown = unknown_fields(message)
        if unknown:
            raise ValueError(f"fields unknown to opentelemetry-proto in {unknown[:5]}")
    return message.SerializeToString(deterministic=True).hex()


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            print(json.dumps({"ok": True, "protobuf": decode(line)}))
        except Exception as e:  # every failure is reported to the test, with its reason
            print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
