"""melody.uploads: uploaded files and zips are stored under safe names with size limits."""
from __future__ import annotations

import io
import os
import zipfile

import pytest

from melody.uploads import UploadError, extract_zip, save_upload


def _zip(members, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members:
            if isinstance(data, tuple):               # (target, "link"): a symlink member
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o120777 << 16)
                z.writestr(info, data[0])
            else:
                z.writestr(name, data)
    return buf.getvalue()


def test_save_upload_never_uses_the_uploaded_name(tmp_path):
    folder = tmp_path / "up"
    path = save_upload("../../evil.mid", b"MThd", str(folder))
    assert os.path.dirname(path) == str(folder) and path.endswith(".mid") and "evil" not in path
    assert save_upload("other name.mid", b"MThd", str(folder)) == path     # same content, same path
    with pytest.raises(UploadError, match="limit"):
        save_upload("big.mid", b"x" * 11, str(folder), max_bytes=10)
    with pytest.raises(UploadError, match="not a file type"):
        save_upload("notes.txt", b"x", str(folder))


def test_extract_zip_keeps_songs_inside_the_folder(tmp_path):
    folder = tmp_path / "up"
    data = _zip([("../../../etc/evil.abc", b"X:1\nK:C\nCDE|\n"), ("/abs/tune.mid", b"MThd1"),
                 ("dir/", b""), ("readme.txt", b"hi"), ("link.mid", ("/etc/passwd", "link")),
                 ("songs/a.musicxml", b"<score/>")])
    out = extract_zip(data, str(folder))
    assert [name for name, _ in out] == ["../../../etc/evil.abc", "/abs/tune.mid", "songs/a.musicxml"]
    assert all(os.path.dirname(p) == str(folder) for _, p in out)
    assert sorted(os.listdir(folder)) == sorted(os.path.basename(p) for _, p in out)
    assert not (tmp_path / "etc").exists()


def test_extract_zip_refuses_bombs_too_many_files_and_non_zips(tmp_path):
    bomb = _zip([("a.mid", b"\0" * 200_000)], zipfile.ZIP_DEFLATED)
    assert len(bomb) < 2000
    with pytest.raises(UploadError, match="larger than the limit"):
        extract_zip(bomb, str(tmp_path), max_file_bytes=100_000)
    with pytest.raises(UploadError, match="larger than the limit"):
        extract_zip(_zip([("a.mid", b"1" * 60), ("b.mid", b"2" * 60)]), str(tmp_path), max_bytes=100)
    with pytest.raises(UploadError, match="at most 2"):
        extract_zip(_zip([(f"{k}.mid", b"x") for k in range(3)]), str(tmp_path), max_files=2)
    with pytest.raises(UploadError, match="not a valid zip"):
        extract_zip(b"PK\3\4 not really", str(tmp_path))


def test_a_recording_gets_the_larger_limit(tmp_path):
    from melody.uploads import MAX_AUDIO_BYTES, MAX_FILE_BYTES
    big = b"x" * (MAX_FILE_BYTES + 1)
    assert MAX_AUDIO_BYTES > len(big)
    assert save_upload("take.mp3", big, str(tmp_path)).endswith(".mp3")
    with pytest.raises(UploadError, match="limit"):
        save_upload("song.mid", big, str(tmp_path))


def test_relabel_shows_the_uploaded_name_not_the_stored_one(tmp_path):
    """An upload is stored under its content hash; a melody named after its file (a recording, an untitled
    MIDI) was shown in the dashboard's piano roll as '0f24644b414807c955775cc9 vs Ode to Joy'."""
    import numpy as np

    from _songs import random_lead
    from melody.io import load
    from melody.testing import Track, write_midi
    from melody.uploads import relabel
    song = write_midi(str(tmp_path / "x.mid"), [Track("Lead", 0, random_lead(np.random.default_rng(2), 12))])
    path = save_upload("My Song.mid", open(song, "rb").read(), str(tmp_path / "up"))
    title = load(path)[0].title
    assert title == os.path.splitext(os.path.basename(path))[0]          # the premise: named after the file
    result = {"query": path, "status": "ok", "error": None, "flagged": False,
              "matches": [{"title": "Ref", "query_title": title}, {"title": "Ref", "query_title": "Verse"}]}
    shown = relabel(result, path, "My Song.mid")
    assert shown["query"] == "My Song.mid"
    assert [m["query_title"] for m in shown["matches"]] == ["My Song", "Verse"]
    failed = relabel({**result, "status": "error", "error": f"{path}: corrupt", "matches": []}, path, "My Song.mid")
    assert failed["error"] == "My Song.mid: corrupt"
