"""Duplicate incident ids over any number of lines, in bounded memory.

An audit reports every evaluated line whose incident id an earlier evaluated line had. Keeping
every id in memory grows with the file (about 100 bytes a line), so the ledger keeps a fixed-size
buffer of fixed-size records and, when it is full, sorts it and writes it to a temporary file (a
sorted run). At the end the runs are merged in one pass (an external merge sort), and records with
the same id come together.

Incident ids are personal-data adjacent, so none is written to disk in clear: a record holds a
keyed digest of the id (to compare ids), the line number, and the id sealed with a keystream
(keyed BLAKE2b over the line number, XORed with the id), so that the first 1,000 duplicates can
still name their incident. Both keys are random, made once per process (and handed to the audit's
workers), and never written anywhere; the temporary files are removed when the ledger is read or
closed. Records of one process are comparable only with records made under the same keys.
"""

from __future__ import annotations

import hashlib
import heapq
import secrets
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

ID_BYTES = 64  # the longest incident id the audit repeats (incident.looks_like_id)
# A record: keyed digest of the id, line number, sealed id. Sorting records as bytes sorts them by
# id digest, then by line (big-endian), so the first line of each id comes first.
RECORD = struct.Struct(f">16sQ{ID_BYTES}s")
# Records held before a sorted run is written: 4,096 is about 360 KB. A spill briefly holds the
# buffer and its sorted copy as one bytes object a record (about 130 bytes each), so the first
# spill adds about 0.9 MB to the audit's peak; with 16,384 it added 3.6 MB, which put a
# million-line audit's peak 10% above a 10,000-line one's (which never spills). Smaller buffers
# mean more runs to merge (244 for a million lines, merged MERGE_FAN_IN at a time).
BUFFER_RECORDS = 4_096
MERGE_FAN_IN = 32  # runs merged at once: more are first merged into fewer, so memory stays bounded
READ_RECORDS = 256  # records read at a time from each run being merged (about 22 KB)


@dataclass(frozen=True)
class Keys:
    """The per-process secrets: one to compare ids, one to seal them."""

    digest: bytes
    seal: bytes

    @staticmethod
    def fresh() -> Keys:
        return Keys(secrets.token_bytes(32), secrets.token_bytes(32))


_KEYS: list[Keys] = [Keys.fresh()]


def process_keys() -> Keys:
    """The keys of this process (the audit's workers are given the parent's)."""
    return _KEYS[0]


def use_keys(keys: Keys) -> None:
    """Adopt the parent's keys in a worker process, so that its records compare with the parent's."""
    _KEYS[0] = keys


@dataclass(frozen=True)
class Duplicate:
    """A line that repeats the incident id of an earlier line."""

    line: int
    incident: str
    first_line: int


def _keystream(keys: Keys, line: int) -> int:
    pad = hashlib.blake2b(line.to_bytes(8, "big"), key=keys.seal, digest_size=ID_BYTES).digest()
    return int.from_bytes(pad, "big")


def seal(keys: Keys, incident: str, line: int) -> bytes:
    """A record for the incident id seen on a line."""
    raw = incident.encode("ascii")
    if len(raw) > ID_BYTES:
        raise ValueError(f"an incident id the ledger keeps is at most {ID_BYTES} bytes")
    digest = hashlib.blake2b(raw, key=keys.digest, digest_size=16).digest()
    sealed = (int.from_bytes(raw.ljust(ID_BYTES, b"\0"), "big") ^ _keystream(keys, line)).to_bytes(ID_BYTES, "big")
    return RECORD.pack(digest, line, sealed)


def unseal(keys: Keys, record: bytes) -> tuple[bytes, int, str]:
    """(id digest, line, incident id) of a record."""
    digest, line, sealed = RECORD.unpack(record)
    raw = (int.from_bytes(sealed, "big") ^ _keystream(keys, line)).to_bytes(ID_BYTES, "big")
    return digest, line, raw.rstrip(b"\0").decode("ascii")


class IdLedger:
    """The incident id of every evaluated line, in bounded memory (see the module's docstring)."""

    def __init__(self, buffer_records: int | None = None) -> None:
        # Read at construction (not bound as a default) so that a test can make every ledger small.
        self.buffer_records = BUFFER_RECORDS if buffer_records is None else buffer_records
        self._buffer = bytearray()
        self._runs: list[Path] = []
        self._folders: list[Path] = []  # the temporary folders of the runs (removed on close)
        self.count = 0

    def __getstate__(self) -> dict[str, Any]:
        # A partial ledger travels from a worker to the parent; a spilled one cannot (its runs
        # are files of the process that wrote them).
        if self._runs:
            raise ValueError("a ledger with runs on disk cannot be sent to another process")
        return self.__dict__.copy()

    def add(self, incident: str, line: int) -> None:
        self._buffer += seal(process_keys(), incident, line)
        self.count += 1
        if len(self._buffer) >= self.buffer_records * RECORD.size:
            self._spill()

    def absorb(self, other: IdLedger) -> None:
        """Take every record of ``other``, which is left empty (its runs become this ledger's)."""
        self._buffer += other._buffer
        self._runs += other._runs
        self._folders += other._folders
        self.count += other.count
        other._buffer, other._runs, other._folders, other.count = bytearray(), [], [], 0
        if len(self._buffer) >= self.buffer_records * RECORD.size:
            self._spill()

    def _spill(self) -> None:
        if not self._folders:
            self._folders.append(Path(tempfile.mkdtemp(prefix="hocr-audit-ids-")))
        size = RECORD.size
        records = sorted(bytes(self._buffer[i:i + size]) for i in range(0, len(self._buffer), size))
        path = self._folders[0] / f"run-{secrets.token_hex(8)}"
        with path.open("wb") as f:
            f.writelines(records)
        self._runs.append(path)
        self._buffer = bytearray()

    def duplicates(self) -> Iterator[Duplicate]:
        """Every line repeating an earlier line's id, grouped by id and, within an id, by line.
        Reading the ledger empties it and removes its files."""
        try:
            yield from self._duplicates()
        finally:
            self.close()

    def _reduce_runs(self) -> None:
        """Merge runs, MERGE_FAN_IN at a time, until at most MERGE_FAN_IN are left (so the final
        merge reads a bounded number of files, whatever the number of lines)."""
        while len(self._runs) > MERGE_FAN_IN:
            group, self._runs = self._runs[:MERGE_FAN_IN], self._runs[MERGE_FAN_IN:]
            path = self._folders[0] / f"run-{secrets.token_hex(8)}"
            files = [p.open("rb") for p in group]
            try:
                with path.open("wb") as out:
                    out.writelines(heapq.merge(*(_records(f) for f in files)))
            finally:
                for f in files:
                    f.close()
            for p in group:
                p.unlink()
            self._runs.append(path)

    def _duplicates(self) -> Iterator[Duplicate]:
        self._reduce_runs()
        keys = process_keys()
        size = RECORD.size
        in_memory = sorted(bytes(self._buffer[i:i + size]) for i in range(0, len(self._buffer), size))
        self._buffer = bytearray()
        files = [path.open("rb") for path in self._runs]
        try:
            first_digest, first_line = b"", 0
            for record in heapq.merge(in_memory, *(_records(f) for f in files)):
                digest, line = record[:16], int.from_bytes(record[16:24], "big")
                if digest != first_digest:
                    first_digest, first_line = digest, line
                    continue
                yield Duplicate(line, unseal(keys, record)[2], first_line)
        finally:
            for f in files:
                f.close()

    def close(self) -> None:
        """Forget every record and remove the temporary files."""
        folders, self._folders = self._folders, []
        self._buffer, self._runs, self.count = bytearray(), [], 0
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    def __del__(self) -> None:
        if getattr(self, "_folders", None):
            self.close()


def _records(f: BinaryIO) -> Iterator[bytes]:
    size = RECORD.size
    while True:
        chunk = f.read(size * READ_RECORDS)
        if not chunk:
            return
        for i in range(0, len(chunk), size):
            yield chunk[i:i + size]
