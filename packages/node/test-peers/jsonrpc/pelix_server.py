"""A jsonrpclib-pelix JSON-RPC 2.0 server with Arith; prints its port, serves until killed."""
import sys

from jsonrpclib.SimpleJSONRPCServer import SimpleJSONRPCServer


def multiply(A=0, B=0):
    return A * B


def divide(A=0, B=0):
    if B == 0:
        raise ValueError("divide by zero")
    return {"Quo": A // B, "Rem": A % B}


server = SimpleJSONRPCServer(("127.0.0.1", 0), logRequests=False)
server.register_function(multiply, "Arith.Multiply")
server.register_function(divide, "Arith.Divide")
print(server.server_address[1], flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
