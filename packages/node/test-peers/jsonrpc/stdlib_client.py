"""Calls a Petrel JSON-RPC server with only the Python standard library; prints one JSON object."""
import json
import sys
import urllib.error
import urllib.request

url = sys.argv[1]


def post(body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            text = res.read().decode()
            return res.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, None


out = {}
out["single"] = post({"jsonrpc": "2.0", "method": "Arith.Multiply", "params": {"A": 7, "B": 6}, "id": "a"})
out["batch"] = post(
    [
        {"jsonrpc": "2.0", "method": "Arith.Multiply", "params": [{"A": 2, "B": 5}], "id": 1},
        {"jsonrpc": "2.0", "method": "Arith.Multiply", "params": {"A": 1, "B": 1}},
        {"jsonrpc": "2.0", "method": "Arith.Divide", "params": {"A": 1, "B": 0}, "id": 2},
        {"jsonrpc": "2.0", "method": "Arith.Divide", "params": {"A": 7, "B": 2}, "id": None},
    ]
)
out["notification"] = post({"jsonrpc": "2.0", "method": "Arith.Multiply", "params": {"A": 1, "B": 1}})
out["parseError"] = post(b'{"jsonrpc": "2.0", "method": ')
out["emptyBatch"] = post([])
out["wrongType"] = post({"jsonrpc": "2.0", "method": "Arith.Multiply", "params": {"A": "x"}, "id": 3})
out["wrongContentType"] = post(b"{}", "text/plain")
print(json.dumps(out))
