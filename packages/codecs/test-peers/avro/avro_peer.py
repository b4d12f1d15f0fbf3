#!/usr/bin/env python3
"""Avro peer for Petrel's cross-language tests (Python's `avro`, Debian python3-avro).

Payloads are Avro single-object encodings: C3 01, the writer schema's CRC-64-AVRO fingerprint
(8 bytes, little-endian), the binary body. The fingerprint is computed here from the spec's
reference algorithm over Python avro's Parsing Canonical Form, independently of Petrel.

  avro_peer.py fingerprint SCHEMA.avsc        -> 16 hex digits
  avro_peer.py write SCHEMA.avsc < datum.json -> hex payload (datum: JSON, bytes as hex, longs may be strings)
  avro_peer.py read WRITER.avsc READER.avsc < hex -> datum JSON (bytes as hex, longs as strings)

`read` checks the payload's fingerprint against WRITER and resolves WRITER -> READER.
"""
import io
import json
import sys

import avro.io
import avro.schema

EMPTY = 0xC15D213AA4D7A795
TABLE = []
for i in range(256):
    fp = i
    for _ in range(8):
        fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
    TABLE.append(fp & 0xFFFFFFFFFFFFFFFF)


def rabin(data: bytes) -> int:
    fp = EMPTY
    for b in data:
        fp = (fp >> 8) ^ TABLE[(fp ^ b) & 0xFF]
    return fp


def fingerprint(schema) -> bytes:
    return rabin(schema.canonical_form.encode("utf-8")).to_bytes(8, "little")


def load(path):
    with open(path, encoding="utf-8") as f:
        return avro.schema.parse(f.read())


def from_json(s, v):
    """JSON test value -> Python avro datum, guided by the schema."""
    t = s.type
    if t == "union":
        if v is None:
            return None
        branch = next(b for b in s.schemas if b.type != "null")
        return from_json(branch, v)
    if t == "record":
        return {f.name: from_json(f.type, v[f.name]) for f in s.fields if f.name in v}
    if t == "array":
        return [from_json(s.items, x) for x in v]
    if t == "map":
        return {k: from_json(s.values, x) for k, x in v.items()}
    if t == "bytes":
        return bytes.fromhex(v)
    if t in ("long", "int"):
        return int(v)
    if t in ("double", "float"):
        return float(v)
    return v


def to_json(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    raise TypeError(type(v))


def main(argv):
    cmd = argv[1]
    if cmd == "fingerprint":
        print(fingerprint(load(argv[2])).hex())
    elif cmd == "write":
        schema = load(argv[2])
        datum = from_json(schema, json.load(sys.stdin))
        buf = io.BytesIO()
        buf.write(b"\xc3\x01" + fingerprint(schema))
        avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(buf))
        print(buf.getvalue().hex())
    elif cmd == "read":
        writer, reader = load(argv[2]), load(argv[3])
        payload = bytes.fromhex(sys.stdin.read().strip())
        if payload[:2] != b"\xc3\x01":
            sys.exit("not an Avro single-object payload")
        if payload[2:10] != fingerprint(writer):
            sys.exit("fingerprint %s does not match the writer schema %s" % (payload[2:10].hex(), fingerprint(writer).hex()))
        dec = avro.io.BinaryDecoder(io.BytesIO(payload[10:]))
        print(json.dumps(to_json(avro.io.DatumReader(writer, reader).read(dec))))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
