"""A fast reader for the header of a GGUF file: metadata and tensor shapes, never the weights.

`gguf.GGUFReader` builds numpy views of every field and takes seconds on a 150k-token
vocabulary; Focal reads model headers on every start and in `focal models`, so it parses the
header itself, sequentially, and checks that the tensor data the header promises is really there
(a truncated download is the most common broken model).
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

GGUF_MAGIC = b"GGUF"

# GGUF value types (see the GGUF spec).
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY = range(10)
_UINT64, _INT64, _FLOAT64 = 10, 11, 12
_SCALAR = {
    _UINT8: "<B",
    _INT8: "<b",
    _UINT16: "<H",
    _INT16: "<h",
    _UINT32: "<I",
    _INT32: "<i",
    _FLOAT32: "<f",
    _BOOL: "<?",
    _UINT64: "<Q",
    _INT64: "<q",
    _FLOAT64: "<d",
}

# Arrays longer than this are not kept (merges, scores): only string arrays of tokens matter.
_KEEP_ARRAY_KEYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type")


class GGUFFormatError(ValueError):
    """The file is not a readable GGUF; the message says why, in words a user can act on."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def n_bytes(self) -> int:
        try:
            block, size = GGML_QUANT_SIZES[GGMLQuantizationType(self.ggml_type)]
        except (ValueError, KeyError) as exc:
            raise GGUFFormatError(
                f"tensor {self.name!r} has unknown type {self.ggml_type}"
            ) from exc
        return self.n_elements // block * size


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    file_size: int


class _Cursor:
    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def _need(self, n: int) -> None:
        if self.pos + n > len(self.buf):
            raise GGUFFormatError(
                f"{self.path} is truncated: its header ends at byte {len(self.buf)} "
                "(an interrupted download?). Download the model again."
            )

    def scalar(self, vtype: int) -> Any:
        fmt = _SCALAR[vtype]
        n = struct.calcsize(fmt)
        self._need(n)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return value

    def raw_string(self) -> bytes:
        n = self.scalar(_UINT64)
        if n > 1 << 30:
            raise GGUFFormatError(f"{self.path}: a string of {n} bytes in the header; corrupt file")
        self._need(n)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return raw

    def string(self) -> str:
        return self.raw_string().decode("utf-8", errors="replace")

    def vocabulary(self, count: int) -> list[str]:
        """A kept string array (the tokens). llama.cpp aborts the whole process on a
        vocabulary that lists a token twice (GGML_ASSERT), so that is refused here."""
        raws = [self.raw_string() for _ in range(count)]
        if len(set(raws)) != len(raws):
            seen: dict[bytes, int] = {}
            for i, raw in enumerate(raws):
                if raw in seen:
                    raise GGUFFormatError(
                        f"{self.path} is corrupt: its vocabulary lists the token "
                        f"{raw.decode('utf-8', errors='replace')!r} twice (ids {seen[raw]} and "
                        f"{i}), which llama.cpp cannot load. Download the model again."
                    )
                seen[raw] = i
        return [raw.decode("utf-8", errors="replace") for raw in raws]

    def skip_string(self) -> None:
        n = self.scalar(_UINT64)
        self._need(n)
        self.pos += n

    def value(self, vtype: int, keep: bool) -> Any:
        if vtype == _STRING:
            return self.string()
        if vtype in _SCALAR:
            return self.scalar(vtype)
        if vtype != _ARRAY:
            raise GGUFFormatError(f"{self.path}: unknown metadata value type {vtype}; corrupt file")
        item_type = self.scalar(_UINT32)
        count = self.scalar(_UINT64)
        if count > 1 << 28:
            raise GGUFFormatError(f"{self.path}: an array of {count} items; corrupt file")
        if item_type == _STRING:
            if keep:
                return self.vocabulary(count)
            for _ in range(count):
                self.skip_string()
            return count
        if item_type in _SCALAR:
            size = struct.calcsize(_SCALAR[item_type])
            self._need(size * count)
            if keep:
                values = list(
                    struct.unpack_from(f"<{count}{_SCALAR[item_type][1]}", self.buf, self.pos)
                )
                self.pos += size * count
                return values
            self.pos += size * count
            return count
        # Nested arrays do not occur in model headers; read them anyway.
        return [self.value(item_type, keep) for _ in range(count)]


def read_header(path: Path) -> GGUFHeader:
    """Parse `path`'s GGUF header. Raises `GGUFFormatError` or `OSError` with a clear message."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size < 24:
            raise GGUFFormatError(f"{path} is not a GGUF model: it is only {size} bytes long")
        f.seek(0)
        if f.read(4) != GGUF_MAGIC:
            raise GGUFFormatError(
                f"{path} is not a GGUF model (it does not start with 'GGUF'). "
                "Focal runs llama.cpp models; convert other formats with llama.cpp's "
                "convert_hf_to_gguf.py or download a .gguf file."
            )
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(_Cursor(buf, path), size)


def _parse(cur: _Cursor, size: int) -> GGUFHeader:
    cur.pos = 4
    version = cur.scalar(_UINT32)
    if version not in (2, 3):
        raise GGUFFormatError(f"{cur.path}: GGUF version {version} is not supported (2 or 3 are)")
    n_tensors = cur.scalar(_UINT64)
    n_kv = cur.scalar(_UINT64)
    if n_tensors > 1 << 20 or n_kv > 1 << 20:
        raise GGUFFormatError(f"{cur.path}: implausible header counts; corrupt file")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        vtype = cur.scalar(_UINT32)
        metadata[key] = cur.value(vtype, keep=key in _KEEP_ARRAY_KEYS or vtype != _ARRAY)
    tensors = []
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.scalar(_UINT32)
        if n_dims > 8:
            raise GGUFFormatError(f"{cur.path}: tensor {name!r} has {n_dims} dimensions; corrupt")
        shape = tuple(cur.scalar(_UINT64) for _ in range(n_dims))
        ggml_type = cur.scalar(_UINT32)
        offset = cur.scalar(_UINT64)
        tensors.append(TensorInfo(name, shape, ggml_type, offset))
    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise GGUFFormatError(f"{cur.path}: general.alignment is {alignment!r}; corrupt file")
    data_offset = (cur.pos + alignment - 1) // alignment * alignment
    try:
        end = max((data_offset + t.offset + t.n_bytes() for t in tensors), default=data_offset)
    except GGUFFormatError as exc:
        raise GGUFFormatError(
            f"{cur.path}: {exc}; the file is corrupt, or uses a tensor type newer than this "
            "Focal knows"
        ) from None
    if end > size:
        raise GGUFFormatError(
            f"{cur.path} is truncated: its tensors need {end:,} bytes but the file has {size:,} "
            "(an interrupted download?). Download the model again."
        )
    return GGUFHeader(version, metadata, tuple(tensors), data_offset, size)
