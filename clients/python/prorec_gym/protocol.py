"""The frames of the agent process protocol, version 1 (docs/agent-protocol.md).

A frame is ``b"PRG1"``, the header's and the payload's lengths (two little-endian uint32), a JSON
header (an object with ``type``; binary arrays described in ``arrays``: name, dtype, shape and
byte offset into the payload, a multiple of 8) and the payload. Standard library and NumPy only.
"""

import json
import struct

import numpy as np

PROTOCOL_VERSION = 1
MAGIC = b"PRG1"
_PREFIX = struct.Struct("<4sII")
_DTYPES = {
    "int32": np.dtype("<i4"),
    "uint32": np.dtype("<u4"),
    "uint8": np.dtype("u1"),
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
}
_BY_TYPE = {np.int32: "int32", np.uint32: "uint32", np.uint8: "uint8", np.bool_: "uint8", np.float32: "float32", np.float64: "float64"}


class ProtocolError(Exception):
    """The other side broke the protocol (the message and the field are named)."""


class ProrecError(Exception):
    """An error the harness or a served environment reported (e.g. an invalid action)."""

    def __init__(self, message, kind=None):
        super().__init__(message)
        self.kind = kind


class Message:
    """A decoded frame: ``type``, the header's fields (``header``) and its arrays by name."""

    __slots__ = ("header", "arrays")

    def __init__(self, header, arrays):
        self.header = header
        self.arrays = arrays

    @property
    def type(self):
        return self.header["type"]

    def get(self, key, default=None):
        return self.header.get(key, default)

    def array(self, name, dtype=None, length=None):
        a = self.arrays.get(name)
        if a is None:
            raise ProtocolError("message '%s': array '%s' is missing" % (self.type, name))
        if dtype is not None and a.dtype != _DTYPES[dtype]:
            raise ProtocolError("message '%s': array '%s' has dtype %s, expected %s" % (self.type, name, a.dtype, dtype))
        if length is not None and a.shape[0] != length:
            raise ProtocolError("message '%s': array '%s' has %d rows, expected %d" % (self.type, name, a.shape[0], length))
        return a


def encode_frame(header, arrays=None):
    """The bytes of one frame (a list of parts, to write in order)."""
    descs = []
    parts = []
    offset = 0
    for name, a in (arrays or {}).items():
        a = np.asarray(a)
        key = _BY_TYPE.get(a.dtype.type)
        if key is None:
            raise ProtocolError("array '%s': dtype %s is not one of %s" % (name, a.dtype, ", ".join(_DTYPES)))
        data = np.ascontiguousarray(a, dtype=_DTYPES[key]).tobytes()
        descs.append({"name": name, "dtype": key, "shape": list(a.shape), "offset": offset})
        parts.append(data)
        pad = (-len(data)) % 8
        if pad:
            parts.append(b"\0" * pad)
        offset += len(data) + pad
    h = dict(header)
    if descs:
        h["arrays"] = descs
    hb = json.dumps(h, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return [_PREFIX.pack(MAGIC, len(hb), offset), hb] + parts


def _read_exactly(stream, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            if got == 0:
                raise EOFError("the other side closed the connection")
            raise ProtocolError("the connection ended in the middle of a frame (%d of %d bytes)" % (got, n))
        got += k
    return buf


def read_frame(stream):
    """The next message from a binary stream; EOFError at a clean end of stream."""
    prefix = _read_exactly(stream, _PREFIX.size)
    magic, hlen, plen = _PREFIX.unpack(bytes(prefix))
    if magic != MAGIC:
        raise ProtocolError("bytes that are not a protocol frame (expected b'PRG1', got %r)" % bytes(prefix[:4]))
    header = json.loads(bytes(_read_exactly(stream, hlen)).decode("utf-8")) if hlen else {}
    payload = _read_exactly(stream, plen) if plen else bytearray()
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("a frame header without a string field 'type'")
    arrays = {}
    for i, d in enumerate(header.pop("arrays", []) or []):
        try:
            dt = _DTYPES[d["dtype"]]
            shape = tuple(int(x) for x in d["shape"])
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            arrays[d["name"]] = np.frombuffer(payload, dtype=dt, count=count, offset=int(d["offset"])).reshape(shape)
        except (KeyError, ValueError, TypeError) as e:
            raise ProtocolError("message '%s': arrays.%d is not a valid array description (%s)" % (header["type"], i, e))
    return Message(header, arrays)


class Connection:
    """Frames over a pair of binary streams (a process's stdin/stdout, or a child's pipes)."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    def send(self, header, arrays=None):
        for part in encode_frame(header, arrays):
            self.writer.write(part)
        self.writer.flush()

    def receive(self):
        return read_frame(self.reader)

    def request(self, header, arrays=None, reply=None):
        """Sends a request and returns its reply; an ``error`` reply raises ProrecError."""
        self.send(header, arrays)
        m = self.receive()
        if m.type == "error":
            raise ProrecError(m.get("message", "error"), m.get("error"))
        if reply is not None and m.type != reply:
            raise ProtocolError("replied '%s' to '%s', expected '%s'" % (m.type, header["type"], reply))
        return m
