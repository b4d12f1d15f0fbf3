"""Calls a Petrel JSON-RPC server with jsonrpclib-pelix; prints one JSON object of results."""
import json
import sys

import jsonrpclib
from jsonrpclib.jsonrpc import AppError, ProtocolError

url = sys.argv[1]
proxy = jsonrpclib.ServerProxy(url)
out = {}
out["multiply"] = proxy.Arith.Multiply(A=7, B=6)
out["multiplyPositional"] = proxy.Arith.Multiply({"A": 3, "B": 4})
out["divide"] = proxy.Arith.Divide(A=17, B=5)
try:
    proxy.Arith.Divide(A=1, B=0)
except (ProtocolError, AppError) as e:
    out["divZero"] = list(e.args[0])[:2]
try:
    getattr(proxy, "Arith.Nope")(A=1)
except (ProtocolError, AppError) as e:
    out["unknown"] = list(e.args[0])[:2]
try:
    proxy.Arith.Multiply(A=1, C=2)
except (ProtocolError, AppError) as e:
    out["unknownField"] = list(e.args[0])[:2]
out["fullName"] = getattr(proxy, "petrel.jsonrpc.test.Arith/Multiply")(A=2, B=21)
batch = jsonrpclib.MultiCall(proxy)
batch.Arith.Multiply(A=2, B=3)
batch.Arith.Divide(A=9, B=2)
batch._notify.Arith.Multiply(A=1, B=1)
out["batch"] = list(batch())
proxy._notify.Arith.Multiply(A=5, B=5)
print(json.dumps(out))
