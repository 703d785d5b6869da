"""get_file (``lamella.utils.data_utils``) against a local HTTP server: the cache,
checksums, resuming, atomic names.

The server runs on 127.0.0.1 in a thread; it can cut a response short (an interrupted
download), ignore ``Range`` (a server that cannot resume) or hold a response until the
test opens a gate, and it records every request so a test can tell whether anything
was fetched.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from lamella.utils import data_utils
from lamella.utils.data_utils import get_file, validate_file

PAYLOAD = bytes(np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8))
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = self.server
        data = server.files[self.path]
        asked = self.headers.get("Range")
        server.requests.append((self.path, asked))
        start = int(asked.removeprefix("bytes=").removesuffix("-")) if asked else 0
        if asked and server.honour_range and start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if asked and server.honour_range:
            start = start if server.range_from is None else server.range_from
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if server.gate is not None:  # send the first bytes, then wait for the test
            self.wfile.write(data[:1000])
            self.wfile.flush()
            server.gate.wait(timeout=120)
            data = data[1000:]
        if server.cut_after is not None:
            self.wfile.write(data[: server.cut_after])
            self.close_connection = True
            return
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files = {"/data.bin": PAYLOAD}
    httpd.requests, httpd.cut_after, httpd.honour_range, httpd.range_from = [], None, True, None
    httpd.gate = None
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMELLA_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "datasets"


def test_a_download_is_cached_and_checked(server, cache, capsys):
    path = get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    assert path == str(cache / "data.bin")
    assert (cache / "data.bin").read_bytes() == PAYLOAD
    out = capsys.readouterr().out
    assert f"Downloading data from {server.url}/data.bin" in out
    assert "300000/300000 [" in out  # the progress bar's last line
    get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    assert len(server.requests) == 1  # the second call used the cache


def test_keras_1s_md5_hash_argument_is_checked(server, cache):
    get_file("data.bin", server.url + "/data.bin", md5_hash=MD5)
    assert validate_file(cache / "data.bin", MD5) and not validate_file(
        cache / "data.bin", "0" * 32
    )


def test_a_corrupt_download_leaves_nothing(server, cache):
    with pytest.raises(ValueError) as error:
        get_file("data.bin", server.url + "/data.bin", file_hash="0" * 64)
    assert str(error.value).startswith("data.bin downloaded from http://127.0.0.1:")
    assert f"its sha256 is {SHA256}, the published one is {'0' * 64}" in str(error.value)
    assert list(cache.iterdir()) == []  # neither the file nor its .part


def test_a_corrupt_resumed_download_leaves_no_part_either(server, cache):
    cache.mkdir(parents=True)
    (cache / "data.bin.part").write_bytes(b"x" * 5000)  # a part that is not the file's start
    with pytest.raises(ValueError, match="corrupt"):
        get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    assert server.requests == [("/data.bin", "bytes=5000-")]
    assert list(cache.iterdir()) == []


def test_an_interrupted_download_resumes_where_it_stopped(server, cache):
    server.cut_after = 100_000
    with pytest.raises(OSError, match="stopped after 100000 of 300000 bytes"):
        get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    assert not (cache / "data.bin").exists()  # never a partial file under the real name
    assert (cache / "data.bin.part").stat().st_size == 100_000
    server.cut_after = None
    get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    assert server.requests[-1] == ("/data.bin", "bytes=100000-")
    assert (cache / "data.bin").read_bytes() == PAYLOAD
    assert not (cache / "data.bin.part").exists()


def test_a_server_that_cannot_resume_sends_everything_again(server, cache):
    cache.mkdir(parents=True)
    (cache / "data.bin.part").write_bytes(b"x" * 5000)  # a stale part
    server.honour_range = False
    get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    assert (cache / "data.bin").read_bytes() == PAYLOAD


def test_a_resume_answered_with_another_range_starts_over(server, cache):
    cache.mkdir(parents=True)
    (cache / "data.bin.part").write_bytes(PAYLOAD[:1000])
    server.range_from = 700  # the server answers 206, but not from the byte asked for
    get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    assert server.requests == [("/data.bin", "bytes=1000-"), ("/data.bin", None)]
    assert (cache / "data.bin").read_bytes() == PAYLOAD


def test_a_part_that_already_holds_the_whole_file_is_only_checked(server, cache):
    cache.mkdir(parents=True)
    (cache / "data.bin.part").write_bytes(PAYLOAD)  # e.g. interrupted before the rename
    get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    assert server.requests == [("/data.bin", f"bytes={len(PAYLOAD)}-")]  # answered 416
    assert (cache / "data.bin").read_bytes() == PAYLOAD


def test_a_part_longer_than_the_file_is_dropped(server, cache):
    cache.mkdir(parents=True)
    (cache / "data.bin.part").write_bytes(PAYLOAD + b"junk")
    get_file("data.bin", server.url + "/data.bin")  # no hash to catch it: the 416 tells
    assert server.requests == [("/data.bin", f"bytes={len(PAYLOAD) + 4}-"), ("/data.bin", None)]
    assert (cache / "data.bin").read_bytes() == PAYLOAD


def test_a_corrupted_cached_file_is_fetched_again(server, cache):
    get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    (cache / "data.bin").write_bytes(b"damaged")
    get_file("data.bin", server.url + "/data.bin", file_hash=SHA256)
    assert len(server.requests) == 2 and (cache / "data.bin").read_bytes() == PAYLOAD


def tar_gz(member: str, payload: bytes) -> bytes:
    """A gzipped tar archive holding one file ``member``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def test_untar_unpacks_beside_the_archive(server, cache):
    server.files["/batches.tar.gz"] = tar_gz("batches/readme.txt", b"hello")
    folder = get_file("batches", server.url + "/batches.tar.gz", untar=True)
    assert (cache / "batches.tar.gz").exists()
    assert (data_utils.Path(folder) / "readme.txt").read_bytes() == b"hello"


@pytest.mark.parametrize("python_filter", [True, False], ids=["data_filter", "own_check"])
def test_untar_refuses_members_that_leave_the_cache(server, cache, monkeypatch, python_filter):
    if not python_filter:  # as on a Python without tarfile's extraction filters
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    server.files["/evil.tar.gz"] = tar_gz("../escaped.txt", b"bad")
    with pytest.raises(tarfile.TarError):
        get_file("evil", server.url + "/evil.tar.gz", untar=True)
    assert not (cache.parent / "escaped.txt").exists()
    assert sorted(p.name for p in cache.iterdir()) == ["evil.tar.gz"]  # no staging left


FETCH = """
import sys
from lamella.utils.data_utils import get_file

print(get_file("data.bin", sys.argv[1], file_hash=sys.argv[2]))
"""


def test_two_processes_fetching_one_file_take_turns(server, cache, tmp_path):
    """Two torchrun ranks loading one dataset at once: one downloads, the other waits for it.

    Without the lock both would write into ``data.bin.part`` and the server would see two
    requests; the first rank's response is held open until the second is seen waiting.
    """
    server.gate = threading.Event()
    command = [sys.executable, "-u", "-c", FETCH, server.url + "/data.bin", SHA256]
    env = {**os.environ, "LAMELLA_HOME": str(cache.parent)}
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    ranks = []
    try:
        with open(logs[0], "w") as log:
            ranks.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
        deadline = time.monotonic() + 120
        while not server.requests and ranks[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.requests, logs[0].read_text()  # the first rank downloads, holding the lock
        with open(logs[1], "w") as log:
            ranks.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
        while (
            "Waiting for another process" not in logs[1].read_text()
            and len(server.requests) == 1
            and ranks[1].poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert "Waiting for another process to finish data.bin" in logs[1].read_text()
    finally:
        server.gate.set()
        for rank in ranks:
            rank.wait(timeout=120)
    outputs = [log.read_text() for log in logs]
    assert [rank.returncode for rank in ranks] == [0, 0], outputs
    assert len(server.requests) == 1  # the second rank found the file in the cache
    assert all(out.splitlines()[-1] == str(cache / "data.bin") for out in outputs)
    assert "Downloading data from" not in outputs[1]
    assert (cache / "data.bin").read_bytes() == PAYLOAD
    assert [p.name for p in cache.iterdir()] == ["data.bin"]  # no part, no lock file


def test_an_unreachable_origin_is_an_os_error(cache):
    with pytest.raises(OSError, match=r"could not download http://127\.0\.0\.1:9/x"):
        get_file("x", "http://127.0.0.1:9/x")
