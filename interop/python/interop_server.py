"""The gRPC interop test server on Python grpcio (grpc/grpc doc/interop-test-descriptions.md).

    /usr/bin/python3 -B interop_server.py --port=P [--use_tls=false] [--host=127.0.0.1]

Serves grpc.testing.TestService (UnimplementedService stays unregistered) on 127.0.0.1 (--host) and prints
`interop_server: listening on 127.0.0.1:PORT` once it serves (--port=0 picks a free port). Stops
gracefully on SIGTERM/SIGINT. Exit 2 on bad usage.
"""

import argparse
import signal
import sys
import threading
import time
from concurrent import futures

sys.dont_write_bytecode = True  # before importing our modules: no __pycache__ in the repository

import grpc  # noqa: E402

from codec import OPTIONS, reader, writer  # noqa: E402
from stubs import empty_pb2, messages_pb2  # noqa: E402

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
CODES = {c.value[0]: c for c in grpc.StatusCode}


def echo_metadata(context, compress):
    """Echoes the test metadata; sets the call's response compression first (it rides on the headers)."""
    if compress:
        context.set_compression(grpc.Compression.Gzip)
    md = dict(context.invocation_metadata())
    initial = md.get(ECHO_INITIAL_KEY)
    if initial is not None:
        context.send_initial_metadata(((ECHO_INITIAL_KEY, initial),))
    trailing = md.get(ECHO_TRAILING_KEY)
    if trailing is not None:
        context.set_trailing_metadata(((ECHO_TRAILING_KEY, trailing),))


def check_expect_compressed(expect, compressed, context):
    """The CompressedRequest feature: a message's expect_compressed must match how it travelled."""
    if expect is None:
        return
    if expect.value and not compressed:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected a compressed request message, got an uncompressed one")
    if not expect.value and compressed:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected an uncompressed request message, got a compressed one")


def check_status(req, context):
    if req.HasField("response_status") and req.response_status.code != 0:
        code = CODES.get(req.response_status.code, grpc.StatusCode.UNKNOWN)
        context.abort(code, req.response_status.message)


def payload(size, type_, context):
    if size < 0:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"negative payload size {size}")
    return messages_pb2.Payload(type=type_, body=bytes(size))


def stream_responses(req, context, call_compressed):
    """Responses for one StreamingOutputCallRequest; with call compression on, each message that does
    not ask for compression is sent uncompressed (CompressedResponse, per message)."""
    for p in req.response_parameters:
        if p.interval_us > 0:
            time.sleep(p.interval_us / 1e6)
        if not context.is_active():
            return
        if call_compressed and not (p.HasField("compressed") and p.compressed.value):
            context.disable_next_message_compression()
        yield messages_pb2.StreamingOutputCallResponse(payload=payload(p.size, req.response_type, context))


def wants_compression(reqs):
    return any(p.HasField("compressed") and p.compressed.value for r in reqs for p in r.response_parameters)


def empty_call(item, context):
    echo_metadata(context, False)
    return empty_pb2.Empty()


def unary_call(item, context):
    req, compressed = item
    echo_metadata(context, req.HasField("response_compressed") and req.response_compressed.value)
    check_expect_compressed(req.expect_compressed if req.HasField("expect_compressed") else None, compressed, context)
    check_status(req, context)
    return messages_pb2.SimpleResponse(payload=payload(req.response_size, req.response_type, context))


def streaming_output_call(item, context):
    req, _ = item
    compress = wants_compression([req])
    echo_metadata(context, compress)
    yield from stream_responses(req, context, compress)
    check_status(req, context)


def streaming_input_call(items, context):
    echo_metadata(context, False)
    size = 0
    for req, compressed in items:
        check_expect_compressed(req.expect_compressed if req.HasField("expect_compressed") else None, compressed, context)
        size += len(req.payload.body)
    return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=size)


def full_duplex_call(items, context):
    # The call's response compression rides on the response headers, which may go out before the
    # first request is read; no interop case asks for compressed bidi responses, so none are.
    echo_metadata(context, False)
    for req, _ in items:
        check_status(req, context)
        yield from stream_responses(req, context, False)


def half_duplex_call(items, context):
    reqs = [req for req, _ in items]
    compress = wants_compression(reqs)
    echo_metadata(context, compress)
    for req in reqs:
        check_status(req, context)
        yield from stream_responses(req, context, compress)


def unimplemented_call(item, context):
    context.abort(grpc.StatusCode.UNIMPLEMENTED, "grpc.testing.TestService/UnimplementedCall is not implemented")


def test_service():
    h = grpc
    handlers = {
        "EmptyCall": h.unary_unary_rpc_method_handler(empty_call, reader(empty_pb2.Empty), writer),
        "UnaryCall": h.unary_unary_rpc_method_handler(unary_call, reader(messages_pb2.SimpleRequest), writer),
        "CacheableUnaryCall": h.unary_unary_rpc_method_handler(unary_call, reader(messages_pb2.SimpleRequest), writer),
        "StreamingOutputCall": h.unary_stream_rpc_method_handler(
            streaming_output_call, reader(messages_pb2.StreamingOutputCallRequest), writer
        ),
        "StreamingInputCall": h.stream_unary_rpc_method_handler(
            streaming_input_call, reader(messages_pb2.StreamingInputCallRequest), writer
        ),
        "FullDuplexCall": h.stream_stream_rpc_method_handler(full_duplex_call, reader(messages_pb2.StreamingOutputCallRequest), writer),
        "HalfDuplexCall": h.stream_stream_rpc_method_handler(half_duplex_call, reader(messages_pb2.StreamingOutputCallRequest), writer),
        "UnimplementedCall": h.unary_unary_rpc_method_handler(unimplemented_call, reader(empty_pb2.Empty), writer),
    }
    return grpc.method_handlers_generic_handler("grpc.testing.TestService", handlers)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="interop_server", description="gRPC interop test server (Python grpcio)")
    p.add_argument("--port", type=int, required=True, help="port to listen on; 0 picks a free one")
    p.add_argument("--use_tls", default="false", choices=["true", "false"])
    p.add_argument("--host", default="127.0.0.1")
    args = p.parse_args(argv)
    if args.use_tls == "true":
        p.error("TLS not supported (--use_tls=true); run with --use_tls=false")
    if not 0 <= args.port <= 65535:
        p.error(f"bad --port {args.port}")
    return args


def main(argv):
    args = parse_args(argv)
    # Streaming handlers hold a worker thread each for the whole call.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=OPTIONS)
    server.add_generic_rpc_handlers((test_service(),))
    host = f"[{args.host}]" if ":" in args.host else args.host
    port = server.add_insecure_port(f"{host}:{args.port}")
    if port == 0:
        print(f"interop_server: cannot listen on {host}:{args.port}", file=sys.stderr)
        return 1
    server.start()
    print(f"interop_server: listening on {host}:{port}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda n, _f: stop.set())
    while not stop.wait(0.5):
        pass
    print("interop_server: stopping", flush=True)
    server.stop(grace=5).wait(10)
    print("interop_server: closed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
