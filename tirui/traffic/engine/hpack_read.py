"""Reading the server's HPACK header blocks (RFC 7541) at a load test's pace.

A gRPC server answers every call with the same two blocks once its dynamic table holds them
(C-core: ``\\x88\\xc0\\xbf`` for the headers, ``\\xbe`` + a literal empty ``grpc-message`` for the
trailers), so a block already read is looked up, not decoded again, for as long as the table has
not changed; any block that changes it (an incremental-indexing literal, a size update) clears
what was kept. The static table and the Huffman code are the ``hpack`` package's; the general
decoder there costs about as much per call as the rest of the client.
"""

from __future__ import annotations

from collections import deque
from typing import cast

from hpack.exceptions import HPACKDecodingError
from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

STATIC = cast(tuple[tuple[bytes, bytes], ...], HeaderTable.STATIC_TABLE)
Fields = list[tuple[bytes, bytes]]


class HpackError(ValueError):
    """A header block this decoder cannot read (the connection is then unusable)."""


class BlockReader:
    """One connection's HPACK decoding state (its dynamic table) and the blocks read under it."""

    def __init__(self, max_size: int = 4096) -> None:
        self._table: deque[tuple[bytes, bytes]] = deque()  # newest first
        self._size = 0
        self._max = max_size
        self._limit = max_size  # what SETTINGS_HEADER_TABLE_SIZE allows (4096, never changed)
        self._seen: dict[bytes, Fields] = {}
        self._changed = False

    def read(self, block: bytes) -> Fields:
        fields = self._seen.get(block)
        if fields is not None:
            return fields
        self._changed = False
        fields = self._decode(block)
        if self._changed:  # what was kept may point at entries that moved
            self._seen.clear()
        elif len(self._seen) < 64:
            self._seen[block] = fields
        return fields

    def _decode(self, block: bytes) -> Fields:
        out: Fields = []
        i, n = 0, len(block)
        while i < n:
            b = block[i]
            if b & 0x80:  # indexed field
                index, i = self._int(block, i, 7)
                out.append(self._get(index))
            elif b & 0x40:  # literal, incremental indexing
                index, i = self._int(block, i, 6)
                name, value, i = self._literal(block, i, index)
                out.append((name, value))
                self._add(name, value)
            elif b & 0x20:  # dynamic table size update
                size, i = self._int(block, i, 5)
                if size > self._limit:
                    raise HpackError(f"table size {size} past the limit {self._limit}")
                self._max = size
                self._changed = True
                self._evict()
            else:  # literal, not indexed / never indexed
                index, i = self._int(block, i, 4)
                name, value, i = self._literal(block, i, index)
                out.append((name, value))
        return out

    def _literal(self, block: bytes, i: int, index: int) -> tuple[bytes, bytes, int]:
        if index:
            name = self._get(index)[0]
        else:
            name, i = self._string(block, i)
        value, i = self._string(block, i)
        return name, value, i

    @staticmethod
    def _int(block: bytes, i: int, prefix: int) -> tuple[int, int]:
        top = (1 << prefix) - 1
        value = block[i] & top
        i += 1
        if value < top:
            return value, i
        shift = 0
        while True:
            if i >= len(block) or shift > 28:
                raise HpackError("an integer runs past the block")
            b = block[i]
            i += 1
            value += (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, i

    def _string(self, block: bytes, i: int) -> tuple[bytes, int]:
        huffman = block[i] & 0x80
        length, i = self._int(block, i, 7)
        if i + length > len(block):
            raise HpackError("a string runs past the block")
        raw = block[i : i + length]
        if not huffman:
            return raw, i + length
        try:
            return bytes(decode_huffman(raw)), i + length
        except HPACKDecodingError as exc:
            raise HpackError(str(exc)) from None

    def _get(self, index: int) -> tuple[bytes, bytes]:
        if 0 < index <= len(STATIC):
            return STATIC[index - 1]
        at = index - len(STATIC) - 1
        if index <= 0 or at >= len(self._table):
            raise HpackError(f"no header at index {index}")
        return self._table[at]

    def _add(self, name: bytes, value: bytes) -> None:
        self._changed = True
        size = 32 + len(name) + len(value)
        if size > self._max:  # larger than the table: it empties (RFC 7541 4.4)
            self._table.clear()
            self._size = 0
            return
        self._table.appendleft((name, value))
        self._size += size
        self._evict()

    def _evict(self) -> None:
        while self._size > self._max and self._table:
            name, value = self._table.pop()
            self._size -= 32 + len(name) + len(value)
