"""The dataset loaders download through core's get_file: against a local HTTP server,
the published file lands in the cache once, and ``path=`` reads the user's own file.

The downloader itself (checksums, resuming, atomic names) is tested in
tests/core/test_download.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from lamella.preproc.datasets import imdb, mnist
from lamella.preproc.datasets.sources import Published


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = self.server.files[self.path]
        self.server.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.requests = {}, []
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


def test_loaders_fetch_into_the_cache_and_path_is_the_users_file(
    server, cache, tmp_path, monkeypatch
):
    buffer = io.BytesIO()
    arrays = {k: np.full((2, 28, 28) if k[0] == "x" else 2, i, np.uint8)
              for i, k in enumerate(["x_train", "y_train", "x_test", "y_test"])}  # fmt: skip
    np.savez(buffer, **arrays)
    server.files["/mnist.npz"] = buffer.getvalue()
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    monkeypatch.setattr(mnist, "MNIST", Published(server.url + "/mnist.npz", digest))
    (x_train, _), _ = mnist.load_data()
    assert (cache / "mnist.npz").exists() and x_train.shape == (2, 28, 28)
    assert len(server.requests) == 1

    own = tmp_path / "my_mnist.npz"
    own.write_bytes(buffer.getvalue())
    (_, y_train), _ = mnist.load_data(path=str(own))
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    assert len(server.requests) == 1  # nothing fetched for the user's own file


def test_get_word_index_fetches_the_json_and_checks_its_md5(server, cache, monkeypatch):
    index = json.dumps({"film": 1, "plot": 2}).encode()
    server.files["/imdb_word_index.json"] = index
    published = Published(server.url + "/imdb_word_index.json", hashlib.md5(index).hexdigest())
    monkeypatch.setattr(imdb, "WORD_INDEX", published)
    assert imdb.get_word_index() == {"film": 1, "plot": 2}
    assert (cache / "imdb_word_index.json").read_bytes() == index
    monkeypatch.setattr(imdb, "WORD_INDEX", Published(published.origin, "f" * 32))
    (cache / "imdb_word_index.json").unlink()
    with pytest.raises(ValueError, match=r"imdb_word_index\.json downloaded from .* is corrupt"):
        imdb.get_word_index()
    assert list(cache.iterdir()) == []
