"""Why a port or a bridge did not open, told as what the user does about it.

The operating system's words ("[Errno 2] No such file or directory") are
English and name no remedy; each failure here has a translated message of
its own in the config flow, the repair issue and the setup error. The
error's own words stay, for the log and for failures no kind names.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from enum import StrEnum

from .const import BRIDGE_SCHEME


class PortFailure(StrEnum):
    """A kind of failure to open, named as its translations are: each asks the user for something else."""

    NOT_FOUND = "port_not_found"
    """No such device: an adapter unplugged, named otherwise since, or not passed to Home Assistant's container."""
    NOT_SERIAL = "not_a_serial_port"
    """The path is there, but it is no serial port (a directory, a file)."""
    NO_PERMISSION = "port_permission"
    """Home Assistant may not open it (a user outside the dialout group, a container given the node, not its use)."""
    BUSY = "port_busy"
    """Another program holds the port."""
    UNKNOWN_HOST = "unknown_host"
    """The bridge's host name is not known on the network."""
    REFUSED = "bridge_refused"
    """The host answered, but nothing listens on that port."""
    NO_ANSWER = "bridge_no_answer"
    """Nothing answered: the bridge is off, or has another address."""
    OTHER = "cannot_connect"
    """Anything else (an MQTT broker's outage too, which has a repair of its own): told in the error's own words."""


_FAILURES_BY_ERRNO = {
    errno.ENOENT: PortFailure.NOT_FOUND,
    errno.ENOTDIR: PortFailure.NOT_FOUND,
    errno.ENODEV: PortFailure.NOT_FOUND,
    errno.ENXIO: PortFailure.NOT_FOUND,
    errno.EISDIR: PortFailure.NOT_SERIAL,
    errno.ENOTTY: PortFailure.NOT_SERIAL,
    errno.EACCES: PortFailure.NO_PERMISSION,
    errno.EPERM: PortFailure.NO_PERMISSION,
    errno.EBUSY: PortFailure.BUSY,
    errno.ECONNREFUSED: PortFailure.REFUSED,
    errno.EHOSTUNREACH: PortFailure.NO_ANSWER,
    errno.EHOSTDOWN: PortFailure.NO_ANSWER,
    errno.ENETUNREACH: PortFailure.NO_ANSWER,
}
# The resolver's answers for a name it looked up and nobody knows.
_NAMES_NOBODY_KNOWS = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


@dataclass(frozen=True, slots=True)
class OpenError:
    """Why a port or bridge did not open: the kind of failure, and the error's own words."""

    failure: PortFailure
    words: str

    @classmethod
    def of(cls, err: Exception, url: str) -> OpenError:
        """Tell what an attempt to open url raised."""
        # A connection to a bridge whose host never answers times out with no message at all.
        words = str(err) or ("timed out" if isinstance(err, TimeoutError) else type(err).__name__)
        return cls(_failure(err, url), words)

    @property
    def told_as(self) -> str | None:
        """The translation key of this kind of failure; None where only the error's words tell it."""
        return None if self.failure is PortFailure.OTHER else str(self.failure)

    def __str__(self) -> str:
        return self.words


def _failure(err: Exception, url: str) -> PortFailure:
    if isinstance(err, socket.gaierror):
        # Its numbers are the resolver's, not errno's; one that could not ask (no network yet, just after a
        # start) says nothing of the name.
        return PortFailure.UNKNOWN_HOST if err.errno in _NAMES_NOBODY_KNOWS else PortFailure.OTHER
    if isinstance(err, TimeoutError):
        # A raw TCP bridge times out only connecting; RFC 2217 and ESPHome proxies also once connected, while
        # they negotiate: a host that answered.
        return PortFailure.NO_ANSWER if url.startswith(BRIDGE_SCHEME) else PortFailure.OTHER
    if isinstance(err, OSError) and err.errno is not None:
        return _FAILURES_BY_ERRNO.get(err.errno, PortFailure.OTHER)
    return PortFailure.OTHER
