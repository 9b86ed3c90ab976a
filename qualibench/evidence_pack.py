"""Pack files of the folder evidence store: many raw messages a file, appended, one sync a batch.

A first collect of 20,000 replies used to create 20,000 files (and rename each into place):
inode and directory work that cost more than everything else the collecting process did.
A batch is now appended to one pack file and made durable with one `fdatasync`.

Layout, under `evidence/packs/` (self-describing, readable without qualibench):
- `NNNNNN.pack`: records one after the other, each
  `QBE1 <sha256 hex> <length>\\n` + the raw bytes + `\\n`;
- `NNNNNN.idx`: one line `<sha256 hex> <offset of the record> <length>\\n` a record, written
  after the pack is synced. It is a cache: whatever it lacks (a crash between the two writes)
  is read again from the pack's own headers, and a reader checks the header it lands on.

A pack is only ever appended to, under an exclusive lock (`packs/.lock`), and only while its
end is a whole record: a write torn by a crash is left where it is (no record points into
it) and the next batch starts a new pack. Records are never rewritten or removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

MAGIC = b"QBE1 "
# A pack takes batches until it is this large; the next batch starts a new one.
PACK_BYTES = 64 * 1024 * 1024
_HEADER_MAX = len(MAGIC) + 64 + 1 + 20 + 1
# Bytes written by one os.write call: a batch is joined in pieces of this size.
_WRITE_BYTES = 4 * 1024 * 1024


def header(digest: str, length: int) -> bytes:
    return b"%s%s %d\n" % (MAGIC, digest.encode("ascii"), length)


def _parse_header(head: bytes) -> tuple[str, int, int] | None:
    """Return (digest, length, header length) of a record's header, or None if it is none."""
    end = head.find(b"\n")
    if not head.startswith(MAGIC) or end < 0:
        return None
    parts = head[len(MAGIC):end].split(b" ")
    if len(parts) != 2 or len(parts[0]) != 64 or not parts[1].isdigit():
        return None
    try:
        digest = parts[0].decode("ascii")
        int(digest, 16)
    except ValueError:
        return None
    return digest, int(parts[1]), end + 1


class Packs:
    """The packs of one store: append batches, find and read records by digest."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        # digest -> (pack number, record offset, length); loaded on the first lookup only:
        # a collect that only writes never reads the index of what earlier runs stored.
        self._index: dict[str, tuple[int, int, int]] | None = None
        self._read_to: dict[int, int] = {}  # pack number -> bytes of it indexed so far
        self._made = False

    # -- writing ---------------------------------------------------------------------------
    def append(self, items: list[tuple[str, bytes]]) -> None:
        """Append (digest, bytes) records and make them durable before returning."""
        if not items:
            return
        self._make_folder()
        with self._locked():
            number, end = self._writable()
            path = self._path(number, "pack")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                lines: list[str] = []
                pieces: list[bytes] = []
                size = 0
                at = end
                for digest, data in items:
                    head = header(digest, len(data))
                    lines.append(f"{digest} {at} {len(data)}\n")
                    pieces += (head, data, b"\n")
                    size += len(head) + len(data) + 1
                    at += len(head) + len(data) + 1
                    if size >= _WRITE_BYTES:
                        end = _write_at(fd, pieces, end)
                        pieces, size = [], 0
                end = _write_at(fd, pieces, end)
                os.fdatasync(fd)  # the bytes (and the size), before any row names them
            finally:
                os.close(fd)
            self._note(number, lines, end)

    def _note(self, number: int, lines: list[str], end: int) -> None:
        """Add the records just made durable to the pack's index file and to the index."""
        fd = os.open(self._path(number, "idx"), os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # torn by a crash: cut its last line
                kept = os.pread(fd, size, 0)
                os.ftruncate(fd, kept.rfind(b"\n") + 1)
            os.write(fd, "".join(lines).encode("ascii"))
        finally:
            os.close(fd)
        self._read_to[number] = end
        if self._index is not None:
            for line in lines:
                digest, offset, length = line.split()
                self._index.setdefault(digest, (number, int(offset), int(length)))

    def _writable(self) -> tuple[int, int]:
        """Return (pack number, its end) to append to: the last pack while it ends on a whole
        record and is below PACK_BYTES, else a new one (created empty, its name synced)."""
        numbers = self._numbers()
        if numbers:
            last = numbers[-1]
            size = os.stat(self._path(last, "pack")).st_size
            whole = self._catch_up(last, size)
            if whole == size and size < PACK_BYTES:
                return last, size
        number = (numbers[-1] + 1) if numbers else 1
        fd = os.open(self._path(number, "pack"), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.close(fd)
        # A torn or stale index of that number (a pack removed by hand) must not describe it.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(number, "idx"))
        sync_dir(self.folder)  # the new pack's name, before records in it are relied on
        self._read_to[number] = 0
        return number, 0

    def _make_folder(self) -> None:
        if self._made:
            return
        parent = os.path.dirname(self.folder)
        existed = os.path.isdir(self.folder)
        os.makedirs(self.folder, exist_ok=True)
        if not existed:
            sync_dir(parent)
        self._made = True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(os.path.join(self.folder, ".lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another writer of this store appends: wait
            yield
        finally:
            os.close(fd)

    # -- reading ---------------------------------------------------------------------------
    def locate(self, digest: str) -> tuple[int, int, int] | None:
        """Return (pack number, record offset, length) of `digest`, or None."""
        index = self._load()
        found = index.get(digest)
        if found is None and self._refresh():  # written since by another process
            found = index.get(digest)
        return found

    def _load(self) -> dict[str, tuple[int, int, int]]:
        if self._index is None:
            self._index = {}
            self._read_to = {}  # what a writer measured was not indexed: read it all
            self._refresh()
        return self._index

    def where(self, digest: str) -> str | None:
        found = self.locate(digest)
        if found is None:
            return None
        number, offset, length = found
        return f"{self._path(number, 'pack')} (record at byte {offset}, {length} bytes)"

    def read(self, digest: str) -> bytes | None:
        """Return the bytes of `digest`, or None when no pack holds it (or its header is not
        the one the index promised: a damaged pack reads as missing, never as other bytes)."""
        found = self.locate(digest)
        if found is None:
            return None
        number, offset, length = found
        head = header(digest, length)
        with open(self._path(number, "pack"), "rb") as fh:
            record = os.pread(fh.fileno(), len(head) + length, offset)
        if not record.startswith(head) or len(record) != len(head) + length:
            return None
        return record[len(head):]

    def _refresh(self) -> bool:
        """Index what was written since the last look (index files, then pack headers past
        them); return True when anything was added."""
        assert self._index is not None
        added = False
        for number in self._numbers():
            try:
                size = os.stat(self._path(number, "pack")).st_size
            except FileNotFoundError:
                continue
            if self._read_to.get(number, 0) < size:
                before = len(self._index)
                self._catch_up(number, size)
                added |= len(self._index) > before
        return added

    def _catch_up(self, number: int, size: int) -> int:
        """Index pack `number` up to `size` bytes; return where its whole records end."""
        at = self._read_to.get(number)
        if at is None:
            at = self._read_idx(number, size)
        with open(self._path(number, "pack"), "rb") as fh:
            while at < size:
                head = os.pread(fh.fileno(), _HEADER_MAX, at)
                parsed = _parse_header(head)
                if parsed is None:
                    break
                digest, length, head_len = parsed
                end = at + head_len + length + 1
                if end > size or os.pread(fh.fileno(), 1, end - 1) != b"\n":
                    break  # torn by a crash: no row can name it
                if self._index is not None:
                    self._index.setdefault(digest, (number, at, length))
                at = end
        self._read_to[number] = at
        return at

    def _read_idx(self, number: int, size: int) -> int:
        """Take what pack `number`'s index file says; return the end of the records it covers."""
        end = 0
        try:
            with open(self._path(number, "idx"), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return 0
        for line in data.split(b"\n")[:-1]:  # a last line without its newline is torn
            parts = line.split(b" ")
            try:
                digest, offset, length = parts[0].decode("ascii"), int(parts[1]), int(parts[2])
            except (ValueError, IndexError):
                break
            if len(parts) != 3 or len(digest) != 64:
                break
            record_end = offset + len(header(digest, length)) + length + 1
            if offset != end or record_end > size:
                break  # not the next record: the rest is read from the pack's headers
            if self._index is not None:
                self._index.setdefault(digest, (number, offset, length))
            end = record_end
        return end

    def digests(self) -> Iterator[str]:
        """Every digest the packs hold (for audits)."""
        if self._index is None:
            self._load()
        else:
            self._refresh()
        yield from list(self._load())

    def _numbers(self) -> list[int]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return sorted(int(n[:-5]) for n in names if n.endswith(".pack") and n[:-5].isdigit())

    def _path(self, number: int, kind: str) -> str:
        return os.path.join(self.folder, f"{number:06d}.{kind}")


def _write_at(fd: int, pieces: list[bytes], at: int) -> int:
    """Write `pieces` at offset `at`; return the new end."""
    data = memoryview(b"".join(pieces))
    while data:
        done = os.pwrite(fd, data, at)
        data, at = data[done:], at + done
    return at


def sync_dir(folder: str | os.PathLike[str]) -> None:
    """Make the names in `folder` durable (a file created or renamed into it)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
