"""Fixtures of the applications tests: the dim ordering, an empty cache, a local server.

The server stands in for Keras's release pages: it serves the bytes a test puts in
``server.files`` (a path -> bytes dict) and records the paths asked for, so a test
can tell whether a model fetched its weights or used the cache.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lamella import backend as K


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = self.server.files.get(self.path)
        self.server.requests.append(self.path)
        if data is None:
            self.send_error(404)
            return
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
    """``$LAMELLA_HOME/models``, empty: where the applications keep Keras's files."""
    monkeypatch.setenv("LAMELLA_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "models"


@pytest.fixture(params=["th", "tf"])
def ordering(request):
    """Each test runs in both image dim orderings; the setting is put back afterwards."""
    before = K.image_dim_ordering()
    K.set_image_dim_ordering(request.param)
    yield request.param
    K.set_image_dim_ordering(before)
