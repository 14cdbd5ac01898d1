"""A real MQTT broker for the tests: Mosquitto, from Debian's packages, on a free loopback port.

Tests that need it skip, saying why, where it is not installed
(`apt-get install mosquitto`; scripts/setup installs it where it can).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

# Debian puts the broker in /usr/sbin, which a user's PATH may lack.
MOSQUITTO = shutil.which("mosquitto") or next(
    (path for path in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(path).is_file()), None
)
NO_MOSQUITTO = "Mosquitto is not installed (apt-get install mosquitto): the MQTT tests need a real broker"
_START_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Broker:
    """One Mosquitto process, anonymous, in memory, on 127.0.0.1."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start on a free port (the same one again after stop()) and wait until it accepts clients."""
        if not self.port:
            self.port = _free_port()
        config = self.directory / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        log = (self.directory / "mosquitto.log").open("ab")
        assert MOSQUITTO is not None
        self._process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                msg = f"mosquitto exited: {(self.directory / 'mosquitto.log').read_text()[-500:]}"
                raise RuntimeError(msg)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.05)
        msg = f"mosquitto did not accept connections on port {self.port}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """Stop the broker, as a broker that goes down does (clients lose their connection)."""
        if self._process is not None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            self._process = None


@contextlib.contextmanager
def running_broker(directory: Path) -> Iterator[Broker]:
    """A broker for the length of the block; the test skips where Mosquitto is missing."""
    if MOSQUITTO is None:
        pytest.skip(NO_MOSQUITTO)
    broker = Broker(directory)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
