"""Calls the Petrel Arith example over JSON-RPC 2.0 with jsonrpclib-pelix (Debian python3-jsonrpclib-pelix).

    python3 examples/arith/python/client.py [URL]   (default http://127.0.0.1:8080/)
"""
import sys

import jsonrpclib
from jsonrpclib.jsonrpc import ProtocolError

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/"
arith = jsonrpclib.ServerProxy(url).Arith
print("Arith.Multiply(7, 6) =", arith.Multiply(A=7, B=6))
quotient = arith.Divide(A=17, B=5)
print("Arith.Divide(17, 5) = %d rem %d" % (quotient["Quo"], quotient["Rem"]))
try:
    arith.Divide(A=1, B=0)
    sys.exit("Arith.Divide(1, 0): no error")
except ProtocolError as e:
    code, message = e.args[0][:2]
    print("Arith.Divide(1, 0) error: %s %s" % (code, message))
