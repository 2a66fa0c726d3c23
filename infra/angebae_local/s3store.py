"""The embedded stack's S3 objects kept on disk, so a restart finds every uploaded file again.

moto keeps objects in memory only (it has no disk backend; its recorder replays every request, SQS
messages included, which would run the jobs again). The stack's moto server runs in this process, so
this module reads its S3 backend directly: every object version (bytes, ETag, version id, metadata,
time) and delete marker goes to `<state dir>/s3/` — the bytes once each, named by their SHA-256, and a
manifest written atomically — within a second of the change and at stop. At start, after the buckets
are made, the same versions are put back with their version ids and without notifications (no job runs
again; the database already knows these files).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger("angebae.local.s3store")

MANIFEST = "manifest.json"


def _backends():
    from moto.s3.models import s3_backends

    for by_partition in list(s3_backends.values()):
        yield from list(by_partition.values())


def _versions(backend):
    """(bucket name, key name, [versions oldest first]) of every key of every bucket."""
    for bucket in list(backend.buckets.values()):
        for name, versions in list(bucket.keys.iterlists()):
            yield bucket.name, name, list(versions)


class S3Store:
    def __init__(self, directory: Path, interval: float = 1.0) -> None:
        self.dir = directory
        self.blobs = directory / "objects"
        self.interval = interval
        self._signature: object = None
        self._digests: dict[tuple, str] = {}  # (bucket, key, version id, etag) -> sha256: hashed once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ---- save ------------------------------------------------------------------------------------

    def snapshot(self) -> list[dict]:
        from moto.s3.models import FakeDeleteMarker

        entries = []
        for backend in _backends():
            for bucket, key, versions in _versions(backend):
                for v in versions:
                    entry = {
                        "bucket": bucket,
                        "key": key,
                        "version_id": v.version_id,
                        "last_modified": v.last_modified.isoformat(),
                    }
                    if isinstance(v, FakeDeleteMarker):
                        entry["delete_marker"] = True
                    else:
                        entry.update(
                            etag=v.etag, metadata=dict(v.metadata), size=v.size, storage_class=v.storage_class
                        )
                        entry["_key"] = v
                    entries.append(entry)
        return entries

    def save(self) -> bool:
        """Write what changed since the last save; True when something was written."""
        with self._lock:
            try:
                entries = self.snapshot()
            except RuntimeError:  # a bucket changed while it was read: the next round has it
                return False
            signature = [_identity(e) for e in entries]
            if signature == self._signature:
                return False
            self.blobs.mkdir(parents=True, exist_ok=True)
            for entry in entries:
                key = entry.pop("_key", None)
                if key is not None:
                    entry["sha256"] = self._blob(key, _identity(entry))
            _write_atomic(self.dir / MANIFEST, json.dumps(entries, indent=1).encode())
            self._signature = signature
            return True

    def _blob(self, key, identity: tuple) -> str:
        """The SHA-256 of this version's bytes, written to objects/ the first time they are seen."""
        if (digest := self._digests.get(identity)) is None or not (self.blobs / digest).is_file():
            data = key.value
            digest = hashlib.sha256(data).hexdigest()
            if not (self.blobs / digest).exists():
                _write_atomic(self.blobs / digest, data)
            self._digests[identity] = digest
        return digest

    def start(self) -> S3Store:
        """Save within `interval` seconds of each change, until stop()."""

        def loop() -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.save()
                except OSError as exc:
                    log.error("could not save the S3 objects in %s: %s", self.dir, exc)

        self._thread = threading.Thread(target=loop, name="s3store", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.save()

    # ---- restore ---------------------------------------------------------------------------------

    def restore(self) -> int:
        """Put the saved versions back into their (already made) buckets; the number restored."""
        from moto.s3.models import FakeDeleteMarker, s3_backends

        path = self.dir / MANIFEST
        if not path.is_file():
            return 0
        entries = json.loads(path.read_text())
        restored = 0
        for entry in entries:
            bucket_name = entry["bucket"]
            where = s3_backends.bucket_accounts.get(bucket_name)
            if where is None:
                log.warning("bucket %s is gone: its saved objects are not restored", bucket_name)
                continue
            partition, account = where
            backend = s3_backends[account][partition]
            bucket = backend.get_bucket(bucket_name)
            existing = bucket.keys.getlist(entry["key"], [])
            if any(v.version_id == entry["version_id"] for v in existing):
                continue
            modified = datetime.datetime.fromisoformat(entry["last_modified"])
            if entry.get("delete_marker"):
                if not existing:
                    continue
                marker = FakeDeleteMarker(key=existing[-1])
                marker._version_id = entry["version_id"]
                marker.last_modified = modified
                bucket.keys.setlist(entry["key"], [*existing, marker])
                continue
            blob = self.blobs / entry["sha256"]
            if not blob.is_file():
                log.warning("object %s/%s: its saved bytes are missing", bucket_name, entry["key"])
                continue
            key = backend.put_object(
                bucket_name,
                entry["key"],
                blob.read_bytes(),
                storage=entry.get("storage_class"),
                etag=entry["etag"].strip('"'),
                disable_notification=True,
            )
            key._version_id = entry["version_id"]
            key.last_modified = modified
            key.set_metadata(dict(entry.get("metadata") or {}))
            restored += 1
        # what is in the buckets now is what the manifest says: no rewrite at the first save
        self._digests.update({_identity(e): e["sha256"] for e in entries if "sha256" in e})
        with contextlib.suppress(RuntimeError):
            self._signature = [_identity(e) for e in self.snapshot()]
        return restored


def _identity(entry: dict) -> tuple:
    return entry["bucket"], entry["key"], entry["version_id"], entry.get("etag")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
