"""Live processes for end-to-end tests and pictures: the simulator and Home Assistant.

Used by tests/test_end_to_end.py and scripts/screenshots.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "han-port-e2e"  # noqa: S105 - a throwaway user in a throwaway instance


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Simulator:
    """The simulator in its own process; collects what it reports sending."""

    def __init__(
        self,
        port: int,
        start: str,
        seed: int,
        *,
        speed: float = 5,
        start_at_client: int = 0,
        vendor: str = "kamstrup",
        keys: tuple[bytes, bytes] | None = None,
        mqtt: tuple[str, str, str] | None = None,
        options: tuple[str, ...] = (),
    ) -> None:
        """Serve on TCP port; with mqtt (broker HOST:PORT, topic, payload shape), publish there too.

        options are the simulator's other command-line options (--backlog, --deviation, ...).
        """
        self.port = port
        self.sent: list[dict[str, Any]] = []
        key_options = ["--key", keys[0].hex(), "--auth-key", keys[1].hex()] if keys else []
        if mqtt is not None:
            broker, topic, payload = mqtt
            key_options += ["--mqtt", broker, "--topic", topic, "--payload", payload]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator",
                *key_options,
                "--vendor",
                vendor,
                "--port",
                str(port),
                "--speed",
                str(speed),
                "--start",
                start,
                "--seed",
                str(seed),
                "--start-at-client",
                str(start_at_client),
                *options,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().startswith("TCP: ")
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):  # not the keys it names at start
                self.sent.append(json.loads(line))

    def powers(self) -> set[str]:
        return {str(record["power_import"]) for record in list(self.sent)}

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


# For pictures only: a headless browser on this machine logs in without a password.
TRUSTED = """  auth_providers:
    - type: trusted_networks
      trusted_networks: [127.0.0.1/32]
      allow_bypass_login: true
    - type: homeassistant
"""


class HomeAssistant:
    """`python -m homeassistant` on a fresh config directory."""

    def __init__(
        self,
        config: Path,
        port: int,
        extra_yaml: str = "",
        *,
        trusted_local: bool = False,
        configuration: str | None = None,
    ) -> None:
        """Start on config; configuration replaces the test's own (its http and api are added)."""
        self.url = f"http://127.0.0.1:{port}"
        self.token = ""
        config.mkdir(exist_ok=True)
        (config / "custom_components").mkdir(exist_ok=True)
        link = config / "custom_components" / "han_port"
        if not link.exists():
            link.symlink_to(ROOT / "custom_components" / "han_port")
        server = f"""http:
  server_host: 127.0.0.1
  server_port: {port}
api:
onboarding:
"""
        if configuration is not None:
            (config / "configuration.yaml").write_text(configuration + server + extra_yaml)
        else:
            # "NO" quoted: unquoted, YAML reads the country code of Norway as false.
            (config / "configuration.yaml").write_text(
                f"""homeassistant:
  name: HAN Port end-to-end
  latitude: 59.91
  longitude: 10.75
  elevation: 10
  unit_system: metric
  time_zone: Europe/Oslo
  country: "NO"
  currency: NOK
{TRUSTED if trusted_local else ""}{server}config:
logger:
  default: warning
  logs:
    custom_components.han_port: debug
{extra_yaml}"""
            )
        self.log = (config / "console.log").open("w")
        # Coverage measures our code in the test process and the simulator,
        # not Home Assistant's own start-up.
        environment = {key: value for key, value in os.environ.items() if not key.startswith("COV_CORE")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "homeassistant", "--config", str(config), "--skip-pip"],
            env=environment,
            cwd=config,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def request(self, method: str, path: str, body: object = None, *, form: bool = False) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()  # type: ignore[arg-type]
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
            return json.loads(response.read() or b"null")

    def wait_until_up(self, seconds: float = 180) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "Home Assistant exited"
            try:
                self.request("GET", "/api/onboarding")
            except urllib.error.HTTPError as err:
                err.close()
                if err.code == 404:  # an onboarded instance has no onboarding API
                    return
                time.sleep(0.5)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
            else:
                return
        msg = "Home Assistant did not start"
        raise AssertionError(msg)

    def wait_until_running(self, seconds: float = 120) -> None:
        """Wait until the start has wrapped up: until then the frontend says Home Assistant is starting."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.request("GET", "/api/config")["state"] == "RUNNING":
                return
            time.sleep(0.5)
        msg = f"Home Assistant was still starting after {seconds:g} s"
        raise AssertionError(msg)

    def onboard(self) -> None:
        """Go through onboarding as a new user does, accepting every suggestion."""
        self.create_user()
        client_id = f"{self.url}/"
        self.request("POST", "/api/onboarding/core_config", {})
        self.request("POST", "/api/onboarding/analytics", {})
        self.request("POST", "/api/onboarding/integration", {"client_id": client_id, "redirect_uri": f"{client_id}?"})

    def create_user(self) -> None:
        """Onboarding's first step: the owner; keep their token."""
        client_id = f"{self.url}/"
        created = self.request(
            "POST",
            "/api/onboarding/users",
            {"client_id": client_id, "name": "Test", "username": "test", "password": PASSWORD, "language": "en"},
        )
        tokens = self.request(
            "POST",
            "/auth/token",
            {"grant_type": "authorization_code", "code": created["auth_code"], "client_id": client_id},
            form=True,
        )
        self.token = tokens["access_token"]

    async def websocket(self, *messages: dict[str, Any]) -> list[Any]:
        """Send websocket commands with the owner's token; return their results."""
        results = []
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{self.url}/api/websocket") as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": self.token})
            await ws.receive_json()
            for number, message in enumerate(messages, start=1):
                await ws.send_json({"id": number, **message})
                reply = await ws.receive_json()
                if not reply.get("success"):
                    raise RuntimeError(reply)
                results.append(reply.get("result"))
        return results

    def state(self, entity_id: str) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = self.request("GET", f"/api/states/{entity_id}")
        except urllib.error.HTTPError as err:
            if err.code == 404:
                err.close()
                return None
            raise
        return state

    def configure(self, flow_id: str, body: object, seconds: float = 120) -> dict[str, Any]:
        """Submit a step of a config flow and wait, as the frontend does, through its progress steps.

        Home Assistant moves a flow on itself when its progress task ends: a flow that then created its entry
        is gone before it is asked again, and the entry it created is its result.
        """
        path = f"/api/config/config_entries/flow/{flow_id}"
        handler = self.request("GET", path)["handler"]
        before = {entry["entry_id"] for entry in self.entries(handler)}
        result: dict[str, Any] = self.request("POST", path, body)
        deadline = time.monotonic() + seconds
        while result["type"] in ("progress", "progress_done") and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                result = self.request("GET", path)
            except urllib.error.HTTPError as err:
                created = [entry for entry in self.entries(handler) if entry["entry_id"] not in before]
                if err.code != 404 or len(created) != 1:
                    raise
                err.close()
                return {"type": "create_entry", "title": created[0]["title"], "result": created[0]}
        return result

    def entries(self, domain: str) -> list[dict[str, Any]]:
        """Return the config entries of a domain."""
        entries: list[dict[str, Any]] = self.request("GET", f"/api/config/config_entries/entry?domain={domain}")
        return entries

    def add_mqtt(self, broker_port: int) -> dict[str, Any]:
        """Add Home Assistant's MQTT integration as a user does: broker and port, the rest as suggested."""
        result: dict[str, Any] = self.request("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
        for _ in range(4):
            if result["type"] == "menu":
                result = self.configure(str(result["flow_id"]), {"next_step_id": "broker"})
            elif result["type"] == "form":
                answers = {**suggested(result["data_schema"]), "broker": "127.0.0.1", "port": broker_port}
                result = self.configure(str(result["flow_id"]), answers)
            else:
                break
        return result

    def wait_for_entity(self, suffix: str, seconds: float = 60) -> str:
        """Wait for a sensor whose entity id ends with suffix; return its id."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for state in self.request("GET", "/api/states"):
                if state["entity_id"].startswith("sensor.") and state["entity_id"].endswith(suffix):
                    return str(state["entity_id"])
            time.sleep(0.5)
        msg = f"no sensor *{suffix} appeared"
        raise AssertionError(msg)

    def wait_for_state(self, entity_id: str, accept: object, seconds: float = 60) -> dict[str, Any]:
        assert callable(accept)
        deadline = time.monotonic() + seconds
        state = None
        while time.monotonic() < deadline:
            state = self.state(entity_id)
            if state is not None and accept(state["state"]):
                return state
            time.sleep(0.3)
        msg = f"{entity_id} stayed {state and state['state']}"
        raise AssertionError(msg)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def suggested(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """Answer a form as a user who changes nothing: every default, the first choice of a list, sections included."""
    answers: dict[str, Any] = {}
    for field in schema:
        if field.get("type") == "expandable":
            answers[field["name"]] = suggested(field["schema"])
        elif "default" in field:
            answers[field["name"]] = field["default"]
        elif field.get("required") and "boolean" in field.get("selector", {}):
            answers[field["name"]] = False
        elif field.get("required") and "select" in field.get("selector", {}):
            first = field["selector"]["select"]["options"][0]  # what the dropdown shows first
            answers[field["name"]] = first["value"] if isinstance(first, dict) else first
    return answers
