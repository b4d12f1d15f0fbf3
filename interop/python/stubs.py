"""Generates grpc.testing stubs at import time into a temporary directory and loads them.

The protos come from Debian's grpc-proto package (/usr/share/grpc-proto/grpc/testing). They are
copied with their `import "grpc/testing/x.proto"` lines flattened to `import "x.proto"`: generated
with /usr/share/grpc-proto as include root, the output would be a package named `grpc` that shadows
grpcio itself. The proto package stays `grpc.testing`, so method paths on the wire are unchanged.

Exports: empty_pb2, messages_pb2, test_pb2, test_pb2_grpc.
"""

import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROTO_DIR = os.environ.get("PETREL_GRPC_TESTING_PROTOS", "/usr/share/grpc-proto/grpc/testing")
PROTOS = ("empty.proto", "messages.proto", "test.proto")


def _generate(out):
    for name in PROTOS:
        with open(os.path.join(PROTO_DIR, name), encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r'import "grpc/testing/([\w.]+\.proto)";', r'import "\1";', text)
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(text)
    plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
    cmd = [
        shutil.which("protoc") or "/usr/bin/protoc",
        f"--plugin=protoc-gen-grpc={plugin}",
        f"-I{out}",
        f"--python_out={out}",
        f"--grpc_out={out}",
        *PROTOS,
    ]
    r = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=60, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"protoc failed ({' '.join(cmd)}):\n{r.stderr}")


def _load():
    missing = [p for p in PROTOS if not os.path.exists(os.path.join(PROTO_DIR, p))]
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)} in {PROTO_DIR} (apt-get install grpc-proto)")
    out = tempfile.mkdtemp(prefix="petrel-interop-py-")
    try:
        _generate(out)
        sys.path.insert(0, out)
        try:
            # Loaded modules stay in sys.modules, so the directory can go right away.
            return [importlib.import_module(m) for m in ("empty_pb2", "messages_pb2", "test_pb2", "test_pb2_grpc")]
        finally:
            sys.path.remove(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


sys.dont_write_bytecode = True  # no __pycache__ in the temporary directory or the repository
empty_pb2, messages_pb2, test_pb2, test_pb2_grpc = _load()
