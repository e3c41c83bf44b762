"""Files that come from a browser: stored under safe names, zips unpacked without trusting their contents."""
from __future__ import annotations

import hashlib
import os
import zipfile
from io import BytesIO

from .errors import MelodyError
from .io import is_audio, is_supported
from .notes import Melody

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_AUDIO_BYTES = 200 * 1024 * 1024   # a recording: about 20 minutes of CD-quality wav
MAX_ZIP_FILES = 200
MAX_ZIP_BYTES = 100 * 1024 * 1024     # total uncompressed size of the files taken from one zip


class UploadError(MelodyError):
    """An uploaded file or archive is too large, of the wrong type or not a valid archive."""


def save_upload(name: str, data: bytes, folder: str, max_bytes: int | None = None) -> str:
    """Store uploaded bytes under `folder` and return the path.

    `max_bytes` defaults to the limit for the file's kind: MAX_AUDIO_BYTES for a recording, MAX_FILE_BYTES
    for a score.

    The path is named by the content hash plus the original extension, never by the uploaded name, so
    a name like ``../../x.mid`` cannot escape the folder and the same upload always gets the same path.

    Raises
    ------
    UploadError
        If the file is larger than `max_bytes` or its extension is not one melody reads.
    """
    base = os.path.basename(name.replace("\\", "/"))
    if max_bytes is None:
        max_bytes = MAX_AUDIO_BYTES if is_audio(base) else MAX_FILE_BYTES
    if len(data) > max_bytes:
        raise UploadError(f"{base}: {len(data) / 2**20:.1f} MB is larger than the {max_bytes / 2**20:.0f} MB limit")
    if not is_supported(base):
        raise UploadError(f"{base}: not a file type melody reads (MIDI, MusicXML, ABC, kern, wav, flac, ogg, mp3)")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, hashlib.sha256(data).hexdigest()[:24] + os.path.splitext(base)[1].lower())
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.part"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return path


def extract_zip(data: bytes, folder: str, max_files: int = MAX_ZIP_FILES, max_bytes: int = MAX_ZIP_BYTES,
                max_file_bytes: int = MAX_FILE_BYTES) -> list[tuple[str, str]]:
    """The supported songs inside a zip, each stored with `save_upload`; returns ``(name in zip, path)``.

    Nothing is extracted by its own name (so no path traversal), folders, links and unsupported files are
    skipped, and sizes are checked both as declared and as actually decompressed (zip bombs).

    Raises
    ------
    UploadError
        If the data is not a zip, holds more than `max_files` songs or more than `max_bytes` in total,
        or a member is larger than `max_file_bytes`.
    """
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadError(f"not a valid zip archive ({exc})") from None
    out, total = [], 0
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and is_supported(m.filename)
                   and (m.external_attr >> 16) & 0o170000 != 0o120000]      # skip symlinks
        if len(members) > max_files:
            raise UploadError(f"the zip holds {len(members)} songs; at most {max_files} per batch")
        for member in members:
            if member.file_size > max_file_bytes or total + member.file_size > max_bytes:
                raise UploadError(f"{member.filename}: the zip's contents are larger than the limit")
            try:
                with archive.open(member) as fh:
                    content = fh.read(max_file_bytes + 1)    # never trust the declared size
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                raise UploadError(f"{member.filename}: cannot be read from the zip ({exc})") from None
            total += len(content)
            if len(content) > max_file_bytes or total > max_bytes:
                raise UploadError(f"{member.filename}: the zip's contents are larger than the limit")
            out.append((member.filename, save_upload(member.filename, content, folder, max_file_bytes)))
    return out


def relabel(result: dict, path: str, label: str) -> dict:
    """A result of `query_file(path)` as the user should see it: named by the uploaded name `label`, never by
    the stored, content-hashed path (in the error, and as the title of a melody named after its file, as a
    recording or an untitled score is)."""
    stored, shown = (os.path.splitext(os.path.basename(x))[0] for x in (path, label))
    matches = [{**m, "query_title": shown} if m.get("query_title") == stored else m
               for m in result.get("matches") or []]
    error = result["error"].replace(path, label) if result.get("error") else result.get("error")
    return {**result, "query": label, "error": error, "matches": matches}


def relabel_melodies(melodies: list[Melody], path: str, label: str) -> list[Melody]:
    """Melodies loaded from the stored upload `path` as the user should see them: a melody named after its
    file (a recording, an untitled score) takes the uploaded name `label`'s, not the content hash's."""
    stored, shown = (os.path.splitext(os.path.basename(x))[0] for x in (path, label))
    return [Melody(m.notes, shown, m.composer, m.source, m.index, m.meta) if m.title == stored else m
            for m in melodies]
