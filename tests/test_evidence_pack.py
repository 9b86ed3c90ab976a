"""The folder store's pack files: every raw message back byte for byte, through crashes and
tampering, beside the files of stores written before packs."""

from __future__ import annotations

from pathlib import Path

from qualibench import evidence_pack
from qualibench.evidence import LOOSE_BYTES, EvidenceStore, sha256_hex


def _blobs(n: int, tag: str = "m") -> list[bytes]:
    return [f"From: {tag}{i}@brand.example\r\n\r\nbody {i}\r\n".encode() * (i % 7 + 1) for i in range(n)]


def _records(pack: Path) -> list[tuple[str, bytes]]:
    """Split a pack as an auditor would, from its documented layout alone."""
    data, out, at = pack.read_bytes(), [], 0
    while at < len(data):
        end = data.index(b"\n", at)
        magic, digest, length = data[at:end].split(b" ")
        assert magic == b"QBE1"
        body = data[end + 1:end + 1 + int(length)]
        assert data[end + 1 + int(length):end + 2 + int(length)] == b"\n"
        out.append((digest.decode(), body))
        at = end + 2 + int(length)
    return out


def test_a_batch_goes_to_one_pack_and_reads_back_byte_for_byte(tmp_path):
    store = EvidenceStore(tmp_path / "evidence")
    blobs = _blobs(40)
    big = b"x" * (LOOSE_BYTES + 1)
    digests = store.put_many(blobs + blobs[:3] + [big])  # repeats in a batch are stored once
    assert digests == [sha256_hex(b) for b in blobs + blobs[:3] + [big]]
    packs = sorted((tmp_path / "evidence" / "packs").glob("*.pack"))
    assert [p.name for p in packs] == ["000001.pack"]
    # Self-describing: the pack alone gives every message and its digest.
    assert _records(packs[0]) == [(sha256_hex(b), b) for b in blobs]
    assert store.path_for(digests[-1]).read_bytes() == big  # a large mail has a file of its own
    fresh = EvidenceStore(tmp_path / "evidence")  # another process, reading what this one wrote
    assert fresh.get_many(digests) == {d: b for d, b in zip(digests, blobs + blobs[:3] + [big], strict=True)}
    assert all(fresh.exists(d) and fresh.verify(d) for d in digests)
    assert "000001.pack (record at byte 0," in fresh.where(digests[0])
    assert not fresh.exists("0" * 64) and not fresh.verify("0" * 64)


def test_stores_written_before_packs_read_as_they_are(tmp_path):
    old = b"From: a@b.example\r\n\r\nstored one file a message\r\n"
    digest = sha256_hex(old)
    path = tmp_path / "evidence" / digest[:2] / digest[2:]
    path.parent.mkdir(parents=True)
    path.write_bytes(old)
    store = EvidenceStore(tmp_path / "evidence")
    new = store.put_many(_blobs(3))
    assert store.get(digest) == old and store.verify(digest) and store.file_of(digest) == str(path)
    assert store.get_many([digest, *new])[digest] == old
    assert store.file_of(new[0]) is None and store.verify(new[0])


def test_a_write_torn_by_a_crash_is_never_read_and_the_next_batch_starts_a_new_pack(tmp_path):
    store = EvidenceStore(tmp_path / "evidence")
    first = store.put_many(_blobs(5, "a"))
    pack = tmp_path / "evidence" / "packs" / "000001.pack"
    idx = pack.with_suffix(".idx")
    whole = pack.read_bytes()
    # Killed mid-batch: half a record after the last whole one, its index line never written.
    torn = _blobs(1, "torn")[0]
    pack.write_bytes(whole + evidence_pack.header(sha256_hex(torn), len(torn)) + torn[:10])
    reader = EvidenceStore(tmp_path / "evidence")
    assert not reader.exists(sha256_hex(torn))
    second = EvidenceStore(tmp_path / "evidence").put_many(_blobs(5, "b"))
    assert sorted(p.name for p in pack.parent.glob("*.pack")) == ["000001.pack", "000002.pack"]
    assert pack.read_bytes().startswith(whole)  # the torn bytes stay where they were, unused
    assert all(reader.get(d) for d in first + second)  # a reader opened earlier finds the new pack
    # Killed between the pack's sync and its index line: the pack's headers are read instead;
    # a torn index line is cut before the next one is appended.
    idx.write_bytes(idx.read_bytes()[:-30])
    fresh = EvidenceStore(tmp_path / "evidence")
    assert [fresh.get(d) for d in first] == _blobs(5, "a")
    (idx.parent / "000002.idx").unlink()
    third = EvidenceStore(tmp_path / "evidence").put_many(_blobs(2, "c"))
    fresh = EvidenceStore(tmp_path / "evidence")
    assert [fresh.get(d) for d in second + third] == _blobs(5, "b") + _blobs(2, "c")


def test_tampered_or_misplaced_records_fail_verification(tmp_path):
    store = EvidenceStore(tmp_path / "evidence")
    digests = store.put_many(_blobs(4))
    pack = tmp_path / "evidence" / "packs" / "000001.pack"
    data = bytearray(pack.read_bytes())
    at = data.index(b"body 2")  # a byte of the third message's body
    data[at] = ord("B")
    pack.write_bytes(bytes(data))
    fresh = EvidenceStore(tmp_path / "evidence")
    assert [fresh.verify(d) for d in digests] == [True, True, False, True]
    # An index whose lines name each other's records reads them as missing, never as the
    # other message's bytes (the reader checks the header it lands on).
    twins = [b"A" * 50, b"B" * 50]
    d_a, d_b = store.put_many(twins)
    idx = pack.with_suffix(".idx")
    lines = idx.read_bytes().splitlines(keepends=True)
    idx.write_bytes(b"".join(lines[:-2] + [lines[-2].replace(d_a.encode(), d_b.encode()),
                                          lines[-1].replace(d_b.encode(), d_a.encode())]))
    fresh = EvidenceStore(tmp_path / "evidence")
    assert fresh.packs.read(d_a) is None and not fresh.verify(d_a) and not fresh.verify(d_b)


def test_a_full_pack_is_followed_by_a_new_one_and_writers_take_turns(tmp_path, monkeypatch):
    monkeypatch.setattr(evidence_pack, "PACK_BYTES", 1000)
    a, b = EvidenceStore(tmp_path / "evidence"), EvidenceStore(tmp_path / "evidence")
    written = []
    for k in range(6):  # two writers of one store, alternating (the lock serialises them)
        blobs = _blobs(4, f"w{k}-")
        written += zip((a if k % 2 else b).put_many(blobs), blobs, strict=True)
    packs = sorted((tmp_path / "evidence" / "packs").glob("*.pack"))
    assert len(packs) > 2 and all(len(_records(p)) for p in packs)
    fresh = EvidenceStore(tmp_path / "evidence")
    assert all(fresh.get(d) == blob for d, blob in written)
    assert sorted(fresh.packs.digests()) == sorted(d for d, _ in written)

