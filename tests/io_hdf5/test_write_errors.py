"""A save that cannot be written fails with the OSError the system gave (issue 17, item 10),
and leaves the file that was there, and no temporary file, behind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

#: Runs in a child process: the file-size limit (``ulimit -f``) is process-wide.
SCRIPT = textwrap.dedent(
    """
    import errno, json, os, resource, signal, sys
    import numpy as np
    from lamella.hdf5 import writer
    from lamella.layers import Dense
    from lamella.models import Sequential

    folder, check = sys.argv[1], sys.argv[2]
    if check == "off":  # the limit is then met by the writes themselves
        writer._check_size_limit = lambda filepath, size: None
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel ends the process
    model = Sequential([Dense(200, input_dim=300), Dense(200)])  # about 400 KB of weights
    target = os.path.join(folder, "model.h5")
    with open(target, "wb") as f:
        f.write(b"the previous file")
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
    results = {}
    for method in ("save", "save_weights"):
        try:
            getattr(model, method)(target)
            results[method] = "saved"
        except Exception as error:
            results[method] = [type(error).__name__, getattr(error, "errno", None), str(error)]
    with open(target, "rb") as f:
        results["target"] = f.read().decode()
    results["files"] = sorted(os.listdir(folder))
    print(json.dumps(results))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("check", ["on", "off"])
def test_a_save_past_the_file_size_limit_is_an_oserror_efbig(tmp_path, check):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), check],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    target = str(tmp_path / "model.h5")
    for method in ("save", "save_weights"):
        kind, code, message = results[method]
        assert (kind, code) == ("OSError", 27)  # EFBIG, not h5py's RuntimeError
        assert "File too large" in message or "file-size limit" in message
        assert target in message
    assert results["target"] == "the previous file"
    assert results["files"] == ["model.h5"]
