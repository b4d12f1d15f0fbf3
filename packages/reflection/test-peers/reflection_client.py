"""A gRPC server reflection client on Python grpcio, for packages/reflection's interop test.

Usage: reflection_client.py TARGET VERSION PROTO_DIR SYMBOL...
  TARGET     host:port of the server (plaintext)
  VERSION    v1 or v1alpha
  PROTO_DIR  directory holding that version's reflection.proto (e.g. /usr/share/grpc-proto/grpc/reflection/v1)

On one ServerReflectionInfo stream it lists the services, then asks for the file containing each
SYMBOL (a service), builds the returned files in a fresh descriptor pool and looks the service up;
last it asks for an unknown symbol. Prints one JSON object:
  {"services": [...], "symbols": {SYMBOL: {"files": [...], "methods": [[name, input, output], ...]}},
   "unknown": {"error_code": N, "error_message": "..."}, "hosts": [...]}

The stubs are generated at run time with protoc and grpc_python_plugin into a temporary
directory, with the proto's own directory as include root: with /usr/share/grpc-proto as root, the
output would be a package named `grpc` that shadows grpcio itself.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the temporary directory or the repository

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool  # noqa: E402


def load_stubs(proto_dir):
    if not os.path.exists(os.path.join(proto_dir, "reflection.proto")):
        raise RuntimeError(f"missing reflection.proto in {proto_dir}")
    out = tempfile.mkdtemp(prefix="petrel-reflection-py-")
    try:
        plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
        cmd = [
            shutil.which("protoc") or "/usr/bin/protoc",
            f"--plugin=protoc-gen-grpc={plugin}",
            f"-I{proto_dir}",
            f"--python_out={out}",
            f"--grpc_out={out}",
            "reflection.proto",
        ]
        r = subprocess.run(cmd, cwd=proto_dir, capture_output=True, text=True, timeout=60, check=False)
        if r.returncode != 0:
            raise RuntimeError(f"protoc failed ({' '.join(cmd)}):\n{r.stderr}")
        sys.path.insert(0, out)
        try:
            # Loaded modules stay in sys.modules, so the directory can go right away.
            return importlib.import_module("reflection_pb2"), importlib.import_module("reflection_pb2_grpc")
        finally:
            sys.path.remove(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def build_pool(serialized):
    """Adds the files to a fresh pool, each after its imports (the server sends them the other way round)."""
    protos = {}
    for raw in serialized:
        fdp = descriptor_pb2.FileDescriptorProto()
        fdp.ParseFromString(raw)
        protos[fdp.name] = fdp
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name):
        if name in added or name not in protos:
            return
        added.add(name)
        for dep in protos[name].dependency:
            add(dep)
        pool.Add(protos[name])

    for name in protos:
        add(name)
    return pool


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    target, version, proto_dir, symbols = argv[0], argv[1], argv[2], argv[3:]
    pb2, pb2_grpc = load_stubs(proto_dir)
    requests = [pb2.ServerReflectionRequest(host="py-host", list_services="")]
    requests += [pb2.ServerReflectionRequest(host="py-host", file_containing_symbol=s) for s in symbols]
    requests.append(pb2.ServerReflectionRequest(host="py-host", file_containing_symbol="no.such.Symbol"))

    with grpc.insecure_channel(target) as channel:
        stub = pb2_grpc.ServerReflectionStub(channel)
        responses = list(stub.ServerReflectionInfo(iter(requests), timeout=30))
    if len(responses) != len(requests):
        raise RuntimeError(f"{len(requests)} requests but {len(responses)} responses")

    result = {"version": version, "hosts": [r.valid_host for r in responses], "symbols": {}}
    result["services"] = [s.name for s in responses[0].list_services_response.service]
    # Files already sent on this stream are not sent again: accumulate them for the pool.
    seen = []
    for symbol, res in zip(symbols, responses[1:-1]):
        if res.WhichOneof("message_response") != "file_descriptor_response":
            raise RuntimeError(f"{symbol}: unexpected response {res}")
        if res.original_request.file_containing_symbol != symbol:
            raise RuntimeError(f"{symbol}: original_request is {res.original_request}")
        raw = list(res.file_descriptor_response.file_descriptor_proto)
        seen += raw
        service = build_pool(seen).FindServiceByName(symbol)
        result["symbols"][symbol] = {
            "files": [descriptor_pb2.FileDescriptorProto.FromString(b).name for b in raw],
            "file": service.file.name,
            "methods": [[m.name, m.input_type.full_name, m.output_type.full_name] for m in service.methods],
        }
    err = responses[-1].error_response
    result["unknown"] = {"error_code": err.error_code, "error_message": err.error_message}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
