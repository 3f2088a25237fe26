"""The site build survives a slow KaTeX server start: node binds its socket a moment before it listens, and on a
loaded machine sphinxcontrib-katex's one connection attempt in that moment crashed the whole build."""
import subprocess
import sys

import pytest

import sphinxcontrib.katex as katex

from conftest import ROOT, module_from_file

lean_pages = module_from_file(ROOT / "book" / "_ext" / "lean_pages.py")

# A stand-in for KaTeX's server: binds the socket, waits a second (a loaded machine), then listens and answers.
SLOW_SERVER = """
import socket, sys, time
path = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(path)
time.sleep(1.0)
sock.listen(1)
connection, _ = sock.accept()
connection.sendall(b"ok")
time.sleep(5)
"""


@pytest.fixture
def slow_server(monkeypatch, tmp_path):
    script = tmp_path / "slow_server.py"
    script.write_text(SLOW_SERVER)
    monkeypatch.setattr(katex.KaTeXServer, "build_command",
                        classmethod(lambda cls, socket=None, port=None: [sys.executable, str(script), str(socket)]))
    monkeypatch.setattr(katex.KaTeXServer, "start_server_process", katex.KaTeXServer.start_server_process)
    yield tmp_path
    subprocess.run(["pkill", "-f", str(script)], check=False)  # the unpatched start loses its process on a refusal


def test_katex_server_that_listens_late_is_still_reached(slow_server):
    slow_server_patch = classmethod(lean_pages.start_katex_server)  # what setup_katex installs
    katex.KaTeXServer.start_server_process = slow_server_patch
    process, sock = katex.KaTeXServer.start_server_process(slow_server, 5.0)
    try:
        assert sock.recv(2) == b"ok", "connected, but not to the server"
    finally:
        sock.close()
        process.kill()
        process.wait()


def test_the_unpatched_start_is_what_crashed(slow_server):
    """The failure the patch is for: without it the same slow server is refused."""
    with pytest.raises(ConnectionRefusedError):
        process, sock = katex.KaTeXServer.start_server_process(slow_server, 5.0)
