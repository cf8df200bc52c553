"""A real IMAP server for the tests: Debian's Dovecot, started on a free port with a throwaway
mailbox of its own (one user, maildir under the test's folder), stopped after the test. Skips with
the reason where Dovecot is not installed (`.ci/run` installs dovecot-imapd) or cannot run."""

from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .tools import missing, which

USER, PASSWORD = "replies", "dovecot-test-password"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class Dovecot:
    port: int

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            status, _ = client.append(folder, None, None, raw)
            assert status == "OK"
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.client()
        try:
            status, data = client.select(f'"{folder}"', readonly=True)
            return int(data[0] or 0) if status == "OK" else 0
        finally:
            client.logout()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    binary = which("dovecot") or which("/usr/sbin/dovecot")  # /usr/sbin is not on every PATH
    if binary is None:
        missing("dovecot")
    if os.geteuid() != 0:
        pytest.skip("Dovecot's test mailbox needs root to hand its folder to the user nobody")
    # Dovecot's own processes (users dovecot, nobody) must reach the folder: not under pytest's
    # tmp_path, whose parents only root may enter.
    root = Path(tempfile.mkdtemp(prefix="rdv-dovecot-"))
    root.chmod(0o755)
    for folder in ("run", "state", "home"):
        (root / folder).mkdir()
    shutil.chown(root / "home", "nobody", "nogroup")
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port = _free_port()
    config = root / "dovecot.conf"
    config.write_text(CONFIG.format(root=root, port=port))
    subprocess.run([binary, "-c", str(config)], check=True, timeout=30)
    server = Dovecot(port)
    try:
        for _ in range(100):
            try:
                server.client().logout()
                break
            except (OSError, imaplib.IMAP4.error):  # not listening, or its auth not ready yet
                time.sleep(0.05)
        else:
            log = (root / "dovecot.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"Dovecot did not answer on port {port}:\n{log}")
        yield server
    finally:
        subprocess.run(
            ["doveadm", "-c", str(config), "stop"], check=False, timeout=30, capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)
