"""The Python side of the cross-SDK interop test (tests/tests/interop_python.rs), on the OpenTelemetry Python SDK
(versions pinned in requirements.txt, installed by scripts/python-interop.sh). Both roles export their spans over
OTLP/HTTP (protobuf) to the receiver the test runs.

  python peer.py server --otlp URL
      An HTTP server on 127.0.0.1 (port printed as "listening PORT"). Each GET extracts the trace context and baggage
      with the SDK's default propagators (W3C Trace Context and Baggage), records a SERVER span under them, and
      answers with JSON: the headers it got, the parent and baggage the SDK extracted, and its own span.

  python peer.py client --otlp URL --target URL --peer URL
      Starts a trace (a CLIENT span, with baggage, and a tracestate that its sampler sets as a vendor would), calls
      TARGET with the propagated headers, and then sends malformed headers, without the SDK, to TARGET and straight
      to PEER (the server above). Prints one JSON document with what was sent and every answer.
"""

import argparse
import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, SamplingResult

# The tracestate a vendor on the Python side puts on the traces it starts.
TRACESTATE = [("congo", "t61rcWkgMzE"), ("rojo", "00f067aa0ba902b7")]
BAGGAGE = {"user.id": "alice", "tenant": "acme corp"}


class VendorState(Sampler):
    """ParentBased(AlwaysOn) that, like a vendor's sampler, puts TRACESTATE on the traces it starts."""

    def __init__(self):
        self._inner = ParentBased(ALWAYS_ON)

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        result = self._inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        parent = trace.get_current_span(parent_context).get_span_context()
        if parent.is_valid:
            return result
        return SamplingResult(result.decision, result.attributes, trace.TraceState(TRACESTATE))

    def get_description(self):
        return "VendorState"


def provider(service, otlp, sampler=None):
    p = TracerProvider(resource=Resource.create({"service.name": service}), sampler=sampler or ParentBased(ALWAYS_ON))
    p.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp.rstrip("/") + "/v1/traces")))
    return p


def span_context_json(sc):
    return {
        "valid": sc.is_valid,
        "trace_id": trace.format_trace_id(sc.trace_id),
        "span_id": trace.format_span_id(sc.span_id),
        "flags": int(sc.trace_flags),
        "tracestate": sc.trace_state.to_header() if sc.trace_state else "",
    }


def serve(otlp):
    tracer = provider("interop-py-server", otlp).get_tracer("interop.peer")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            # Every field of a name, as the SDK's getter takes repeated fields: a list per name.
            carrier = {k.lower(): self.headers.get_all(k) for k in self.headers.keys()}
            fields = {name: self.headers.get_all(name) or [] for name in ("traceparent", "tracestate", "baggage")}
            cx = propagate.extract(carrier)
            parent = trace.get_current_span(cx).get_span_context()
            with tracer.start_as_current_span("py-server GET", context=cx, kind=trace.SpanKind.SERVER) as span:
                body = json.dumps(
                    {
                        "headers": fields,
                        "parent": span_context_json(parent),
                        "baggage": {k: str(v) for k, v in baggage.get_all(cx).items()},
                        "span": span_context_json(span.get_span_context()),
                    }
                ).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    # Ends when the test closes our stdin (or kills us).
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


def get(url, headers):
    """GET with headers given as (name, value) pairs; a repeated name goes out as separate header fields."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    try:
        conn.putrequest("GET", u.path or "/")
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise RuntimeError(f"GET {url}: {resp.status} {body[:200]!r}")
    return json.loads(body)


def client(otlp, target, peer):
    p = provider("interop-py-client", otlp, VendorState())
    tracer = p.get_tracer("interop.peer")
    out = {}

    # 1. A trace started by the Python SDK, with baggage and a tracestate.
    cx = context.get_current()
    for k, v in BAGGAGE.items():
        cx = baggage.set_baggage(k, v, context=cx)
    token = context.attach(cx)
    try:
        with tracer.start_as_current_span("py-client GET", kind=trace.SpanKind.CLIENT) as span:
            headers = {}
            propagate.inject(headers)
            out["client"] = {"span": span_context_json(span.get_span_context()), "sent": headers}
            out["client"]["answer"] = get(target, list(headers.items()))
    finally:
        context.detach(token)
    p.force_flush()

    # 2. Malformed input, without the SDK: the same headers through otelwright and straight to the Python server.
    tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    pid = "00f067aa0ba902b7"
    many = [f"k{i:02}=v" for i in range(33)]
    fat = [f"k{i}={'v' * 4000}" for i in range(3)]
    cases = {
        "bad_traceparent": [
            ("traceparent", f"00-{tid.upper()}-{pid}-03"),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("baggage", "k=v"),
        ],
        "tracestate_33": [
            ("traceparent", f"00-{tid}-{pid}-03"),
            ("tracestate", ",".join(many[:20])),
            ("tracestate", ",".join(many[20:])),
        ],
        "baggage_oversize": [("traceparent", f"00-{tid}-{pid}-03"), ("baggage", ",".join(fat))],
    }
    out["malformed"] = {
        name: {"sent": headers, "via_otelwright": get(target, headers), "direct": get(peer, headers)}
        for name, headers in cases.items()
    }
    p.shutdown()
    json.dump(out, sys.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--otlp", required=True)
    ap.add_argument("--target")
    ap.add_argument("--peer")
    args = ap.parse_args()
    if args.role == "server":
        serve(args.otlp)
    else:
        client(args.otlp, args.target, args.peer)


if __name__ == "__main__":
    main()
