"""The gRPC interop test client on Python grpcio (grpc/grpc doc/interop-test-descriptions.md).

    /usr/bin/python3 -B interop_client.py --server_host=H --server_port=P --test_case=NAME [--use_tls=false]

Exit 0: passed; 1: failed; 2: bad usage; 3: the case cannot be run with grpcio's public API.
"""

import argparse
import queue
import sys
import time

sys.dont_write_bytecode = True  # before importing our modules: no __pycache__ in the repository

import grpc  # noqa: E402

from codec import OPTIONS, reader, writer  # noqa: E402
from stubs import empty_pb2, messages_pb2  # noqa: E402

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
REQUEST_SIZES = (27182, 8, 1828, 45904)
RESPONSE_SIZES = (31415, 9, 2653, 58979)
# Bounds every call, so a stuck server fails the case instead of hanging it.
TIMEOUT = 60
COMPRESSABLE = messages_pb2.COMPRESSABLE


class Unsupported(Exception):
    """The case needs something grpcio's public API does not offer (exit code 3)."""


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def zeros(size):
    return messages_pb2.Payload(type=COMPRESSABLE, body=bytes(size))


def check_payload(p, size, what):
    check(p.type == COMPRESSABLE, f"{what}: payload type {p.type}")
    check(len(p.body) == size, f"{what}: payload size {len(p.body)}, want {size}")
    check(p.body == bytes(size), f"{what}: payload body is not all zeros")


def expect_code(fn, code, message=None):
    """Runs fn, which must fail with status `code` (and `message`, if given)."""
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, f"expected {code.name}, got {e.code().name}: {e.details()}")
        if message is not None:
            check(e.details() == message, f"status message {e.details()!r}, want {message!r}")
        return e
    raise Failure(f"expected {code.name}, the call succeeded")


class Pipe:
    """A request iterator the case pushes into; close() half-closes."""

    def __init__(self):
        self._q = queue.Queue()

    def add(self, item):
        self._q.put(item)

    def close(self):
        self._q.put(None)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._q.get()
        if item is None:
            raise StopIteration
        return item


class Methods:
    """Multi-callables over the raw-bytes codec: every response comes back as (message, compressed)."""

    def __init__(self, channel):
        def method(kind, name, res_cls, service="grpc.testing.TestService"):
            return getattr(channel, kind)(f"/{service}/{name}", request_serializer=writer, response_deserializer=reader(res_cls))

        m = messages_pb2
        self.empty_call = method("unary_unary", "EmptyCall", empty_pb2.Empty)
        self.unary_call = method("unary_unary", "UnaryCall", m.SimpleResponse)
        self.streaming_output_call = method("unary_stream", "StreamingOutputCall", m.StreamingOutputCallResponse)
        self.streaming_input_call = method("stream_unary", "StreamingInputCall", m.StreamingInputCallResponse)
        self.full_duplex_call = method("stream_stream", "FullDuplexCall", m.StreamingOutputCallResponse)
        self.unimplemented_call = method("unary_unary", "UnimplementedCall", empty_pb2.Empty)
        self.unimplemented_service_call = method("unary_unary", "UnimplementedCall", empty_pb2.Empty, "grpc.testing.UnimplementedService")


def empty_unary(s):
    res, _ = s.empty_call(empty_pb2.Empty(), timeout=TIMEOUT)
    check(isinstance(res, empty_pb2.Empty), "empty_unary: response is not an Empty")


def large_request():
    return messages_pb2.SimpleRequest(response_type=COMPRESSABLE, response_size=314159, payload=zeros(271828))


def large_unary(s):
    res, _ = s.unary_call(large_request(), timeout=TIMEOUT)
    check_payload(res.payload, 314159, "large_unary")


def client_compressed_unary(s):
    def req(expect):
        r = large_request()
        r.expect_compressed.value = expect
        return r

    expect_code(lambda: s.unary_call(req(True), timeout=TIMEOUT), grpc.StatusCode.INVALID_ARGUMENT)
    res, _ = s.unary_call(req(True), timeout=TIMEOUT, compression=grpc.Compression.Gzip)
    check_payload(res.payload, 314159, "client_compressed_unary (compressed)")
    res, _ = s.unary_call(req(False), timeout=TIMEOUT)
    check_payload(res.payload, 314159, "client_compressed_unary (uncompressed)")


def server_compressed_unary(s):
    for want in (True, False):
        r = large_request()
        r.response_compressed.value = want
        res, compressed = s.unary_call(r, timeout=TIMEOUT)
        check_payload(res.payload, 314159, f"server_compressed_unary (response_compressed={want})")
        check(compressed == want, f"server_compressed_unary: response_compressed={want}, but the response compressed flag was {compressed}")


def client_streaming(s):
    reqs = [messages_pb2.StreamingInputCallRequest(payload=zeros(n)) for n in REQUEST_SIZES]
    res, _ = s.streaming_input_call(iter(reqs), timeout=TIMEOUT)
    check(res.aggregated_payload_size == 74922, f"aggregated_payload_size {res.aggregated_payload_size}, want 74922")


def client_compressed_streaming(s):
    probe = messages_pb2.StreamingInputCallRequest(payload=zeros(27182))
    probe.expect_compressed.value = True
    expect_code(lambda: s.streaming_input_call(iter([probe]), timeout=TIMEOUT), grpc.StatusCode.INVALID_ARGUMENT)
    # The compressed half alone, so that at least the server's acceptance of it is checked.
    res, _ = s.streaming_input_call(iter([probe]), timeout=TIMEOUT, compression=grpc.Compression.Gzip)
    check(res.aggregated_payload_size == 27182, f"aggregated_payload_size {res.aggregated_payload_size}, want 27182")
    raise Unsupported(
        "probe and compressed message passed, but the case needs a compressed then an uncompressed message in one call; "
        "grpcio's client compresses per call (compression=...), with no per-message switch"
    )


def server_streaming(s):
    req = messages_pb2.StreamingOutputCallRequest(response_type=COMPRESSABLE)
    for n in RESPONSE_SIZES:
        req.response_parameters.add(size=n)
    sizes = []
    for res, _ in s.streaming_output_call(req, timeout=TIMEOUT):
        check_payload(res.payload, RESPONSE_SIZES[len(sizes)] if len(sizes) < 4 else -1, f"server_streaming response {len(sizes)}")
        sizes.append(len(res.payload.body))
    check(tuple(sizes) == RESPONSE_SIZES, f"response sizes {sizes}")


def server_compressed_streaming(s):
    req = messages_pb2.StreamingOutputCallRequest(response_type=COMPRESSABLE)
    req.response_parameters.add(size=31415).compressed.value = True
    req.response_parameters.add(size=92653).compressed.value = False
    got = [(len(res.payload.body), compressed) for res, compressed in s.streaming_output_call(req, timeout=TIMEOUT)]
    check([n for n, _ in got] == [31415, 92653], f"response sizes {[n for n, _ in got]}")
    check([c for _, c in got] == [True, False], f"response compressed flags {[c for _, c in got]}, want [True, False]")


def ping_pong(s):
    pipe = Pipe()
    call = s.full_duplex_call(pipe, timeout=TIMEOUT)
    try:
        for i, (req_size, res_size) in enumerate(zip(REQUEST_SIZES, RESPONSE_SIZES)):
            req = messages_pb2.StreamingOutputCallRequest(response_type=COMPRESSABLE, payload=zeros(req_size))
            req.response_parameters.add(size=res_size)
            pipe.add(req)
            res, _ = next(call)
            check_payload(res.payload, res_size, f"ping_pong response {i}")
        pipe.close()
        check(next(call, None) is None, "ping_pong: more responses than requests")
    finally:
        pipe.close()
        call.cancel()


def empty_stream(s):
    got = list(s.full_duplex_call(iter([]), timeout=TIMEOUT))
    check(got == [], f"empty_stream: {len(got)} responses")


def timeout_on_sleeping_server(s):
    pipe = Pipe()
    pipe.add(messages_pb2.StreamingOutputCallRequest(payload=zeros(27182)))
    try:
        call = s.full_duplex_call(pipe, timeout=0.001)
        expect_code(lambda: list(call), grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        pipe.close()


def cancel_after_begin(s):
    pipe = Pipe()
    future = s.streaming_input_call.future(pipe, timeout=TIMEOUT)
    try:
        time.sleep(0.05)  # let the call start; no request message is ever sent
        future.cancel()
        check(future.cancelled(), "cancel_after_begin: call not cancelled")
        check(future.code() == grpc.StatusCode.CANCELLED, f"cancel_after_begin: status {future.code()}")
    finally:
        pipe.close()


def cancel_after_first_response(s):
    pipe = Pipe()
    call = s.full_duplex_call(pipe, timeout=TIMEOUT)
    try:
        req = messages_pb2.StreamingOutputCallRequest(response_type=COMPRESSABLE, payload=zeros(27182))
        req.response_parameters.add(size=31415)
        pipe.add(req)
        res, _ = next(call)
        check_payload(res.payload, 31415, "cancel_after_first_response")
        call.cancel()
        expect_code(lambda: next(call), grpc.StatusCode.CANCELLED)
    finally:
        pipe.close()


def status_with(s, message, streaming=True):
    status = messages_pb2.EchoStatus(code=2, message=message)
    expect_code(lambda: s.unary_call(messages_pb2.SimpleRequest(response_status=status), timeout=TIMEOUT), grpc.StatusCode.UNKNOWN, message)
    if streaming:
        req = messages_pb2.StreamingOutputCallRequest(response_status=status)
        expect_code(lambda: list(s.full_duplex_call(iter([req]), timeout=TIMEOUT)), grpc.StatusCode.UNKNOWN, message)


def status_code_and_message(s):
    status_with(s, "test status message")


def special_status_message(s):
    status_with(s, "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n", streaming=False)


def custom_metadata(s):
    initial = "test_initial_metadata_value"
    trailing = b"\xab\xab\xab"
    md = ((ECHO_INITIAL_KEY, initial), (ECHO_TRAILING_KEY, trailing))

    def check_md(what, call):
        got_initial = [v for k, v in call.initial_metadata() if k == ECHO_INITIAL_KEY]
        got_trailing = [v for k, v in call.trailing_metadata() if k == ECHO_TRAILING_KEY]
        check(got_initial == [initial], f"{what}: echoed initial metadata {got_initial}")
        check(got_trailing == [trailing], f"{what}: echoed trailing metadata {got_trailing}")

    (res, _), call = s.unary_call.with_call(large_request(), metadata=md, timeout=TIMEOUT)
    check_payload(res.payload, 314159, "custom_metadata unary")
    check_md("custom_metadata unary", call)

    req = messages_pb2.StreamingOutputCallRequest(response_type=COMPRESSABLE, payload=zeros(271828))
    req.response_parameters.add(size=314159)
    call = s.full_duplex_call(iter([req]), metadata=md, timeout=TIMEOUT)
    got = list(call)
    check(len(got) == 1, f"custom_metadata full duplex: {len(got)} responses")
    check_payload(got[0][0].payload, 314159, "custom_metadata full duplex")
    check_md("custom_metadata full duplex", call)


def unimplemented_method(s):
    expect_code(lambda: s.unimplemented_call(empty_pb2.Empty(), timeout=TIMEOUT), grpc.StatusCode.UNIMPLEMENTED)


def unimplemented_service(s):
    expect_code(lambda: s.unimplemented_service_call(empty_pb2.Empty(), timeout=TIMEOUT), grpc.StatusCode.UNIMPLEMENTED)


CASES = {
    f.__name__: f
    for f in (
        empty_unary,
        large_unary,
        client_compressed_unary,
        server_compressed_unary,
        client_streaming,
        client_compressed_streaming,
        server_streaming,
        server_compressed_streaming,
        ping_pong,
        empty_stream,
        timeout_on_sleeping_server,
        cancel_after_begin,
        cancel_after_first_response,
        status_code_and_message,
        special_status_message,
        custom_metadata,
        unimplemented_method,
        unimplemented_service,
    )
}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="interop_client", description="gRPC interop test client (Python grpcio)")
    p.add_argument("--server_host", default="127.0.0.1")
    p.add_argument("--server_port", type=int, required=True)
    p.add_argument("--test_case", required=True, help=f"one of: {', '.join(CASES)}")
    p.add_argument("--use_tls", default="false", choices=["true", "false"])
    args = p.parse_args(argv)
    if args.use_tls == "true":
        p.error("TLS not supported (--use_tls=true); run with --use_tls=false")
    if not 0 < args.server_port <= 65535:
        p.error(f"bad --server_port {args.server_port}")
    if args.test_case not in CASES:
        p.error(f'unknown --test_case "{args.test_case}"; cases: {", ".join(CASES)}')
    return args


def main(argv):
    args = parse_args(argv)
    host = f"[{args.server_host}]" if ":" in args.server_host else args.server_host
    name = args.test_case
    with grpc.insecure_channel(f"{host}:{args.server_port}", options=OPTIONS) as channel:
        try:
            CASES[name](Methods(channel))
        except Unsupported as e:
            print(f"interop_client: {name}: NOT SUPPORTED: {e}", file=sys.stderr)
            return 3
        except Failure as e:
            print(f"interop_client: {name}: FAIL: {e}", file=sys.stderr)
            return 1
        except grpc.RpcError as e:
            print(f"interop_client: {name}: FAIL: unexpected status {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    print(f"interop_client: {name}: PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
