"""Message codecs that see whether each message travelled compressed.

grpcio tells neither a handler nor a client whether a message arrived compressed. Both interop
programs therefore open their channel/server with `grpc.per_message_decompression` off: C-core then
hands over a message exactly as it came off the wire, still gzipped when its compressed flag was set,
and these deserializers decompress it themselves. A gzip stream starts with 0x1f 0x8b; a protobuf
message never does (0x1f would be field 3 with wire type 7, which does not exist), so the check is
exact. Only identity and gzip are enabled (see ENABLED_ALGORITHMS), so no other encoding gets here.
"""

import zlib

GZIP_MAGIC = b"\x1f\x8b"
# Bit i enables grpc_compression_algorithm i: NONE=0, DEFLATE=1, GZIP=2.
ENABLED_ALGORITHMS = (1 << 0) | (1 << 2)
# Channel/server options shared by both programs.
OPTIONS = [
    ("grpc.per_message_decompression", 0),
    ("grpc.compression_enabled_algorithms_bitset", ENABLED_ALGORITHMS),
]
# The default receive limit of grpcio; a decompressed message may not exceed it either.
MAX_MESSAGE = 4 * 1024 * 1024


def gunzip(data):
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, MAX_MESSAGE + 1)
    if len(out) > MAX_MESSAGE or d.unconsumed_tail:
        raise ValueError(f"decompressed message exceeds {MAX_MESSAGE} bytes")
    if not d.eof:
        raise ValueError("truncated gzip message")
    return out


def reader(cls):
    """A deserializer returning (message, compressed) for protobuf class `cls`."""

    def read(raw):
        compressed = raw[:2] == GZIP_MAGIC
        return cls.FromString(gunzip(raw) if compressed else raw), compressed

    return read


def writer(msg):
    return msg.SerializeToString()

