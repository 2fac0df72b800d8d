"""Pebble (Debian package `pebble`) as the tests' ACME CA, on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType

import trustme

from tests.support.challtestsrv import free_port


class Pebble:
    def __init__(
        self,
        folder: Path,
        *,
        dns: str,
        http_port: int,
        tls_port: int | None = None,
        validity_seconds: int | None = None,
        nonce_reject: int = 0,
        blocklist: tuple[str, ...] = (),
    ) -> None:
        binary = shutil.which("pebble")
        if binary is None:
            raise RuntimeError("pebble not found: apt-get install pebble (scripts/test does)")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        # Debian's pebble ships no test certificate: make one for its own HTTPS.
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(folder / "pebble-key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(folder / "pebble-cert.pem"))
        self.ca_file = folder / "pebble-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.port = free_port()
        self.management_port = free_port()
        config: dict[str, object] = {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(folder / "pebble-cert.pem"),
            "privateKey": str(folder / "pebble-key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port or free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "domainBlocklist": list(blocklist),
        }
        if validity_seconds is not None:
            config["certificateValidityPeriod"] = validity_seconds
        (folder / "pebble.json").write_text(json.dumps({"pebble": config}))
        self.args = [binary, "-config", str(folder / "pebble.json"), "-dnsserver", dns]
        self.env = {
            **os.environ,
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": str(nonce_reject),
            "PEBBLE_AUTHZREUSE": "0",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self) -> None:
        self._log = (self.folder / "pebble.log").open("ab")
        self.proc = subprocess.Popen(
            self.args, stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=self.folder
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                assert self.proc.poll() is None, (self.folder / "pebble.log").read_text()
                assert time.monotonic() < deadline, "pebble did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
            self._log.close()
        self.proc = None

    def root_pem(self) -> bytes:
        """The root that signs issued certificates, from the management port."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        url = f"https://127.0.0.1:{self.management_port}/roots/0"
        with urllib.request.urlopen(url, context=context, timeout=10) as resp:
            data: bytes = resp.read()
        return data

    def __enter__(self) -> Pebble:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
