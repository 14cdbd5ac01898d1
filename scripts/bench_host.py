"""What a meter costs Home Assistant: CPU, database rows and bytes per telegram, in real instances.

For each vendor, two `python -m homeassistant` processes start side by side
from this project's environment, with the development configuration
(recorder on SQLite, history, energy): one reads the simulator's meter over
TCP through HAN Port, the other has no meter and is the baseline. After a
warm-up, both are measured over the same window of N telegrams:

- CPU of the process (user + system, from /proc) beyond the baseline's, and
  of its main thread, the event loop's, beyond the baseline's;
- new rows in the recorder's `states` table;
- recorder bytes: the growth of the database's pages (SQLite's dbstat,
  tables and indexes), so what a row really costs on the SD card;
- resident memory growth.

Rows and bytes are projected to a day at the meter's own pace (the
simulator runs faster than the meter; its telegrams carry the meter's time),
except the worked-out figures' rows: those are written at most once a minute
of wall time whatever the pace, so they are projected by wall time. The
stream stops before the last sample, so telegrams past the window cost
nothing in it; HAN Port logs at warning like the rest of the instance; and
the default window is long enough that page allocation does not dominate
the bytes. It prints numbers, not a verdict: run it before and after a change.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from develop_config import CONFIGURATION, write_config
from homeassistant.components.sensor import SensorStateClass

from custom_components.han_port.sensor import DERIVED_BY_KEY
from tests.live import HomeAssistant, Simulator, free_port

KEY = bytes(range(16))
AUTH_KEY = bytes(range(16, 32))
VENDORS = {"aidon": "Aidon (2.5 s lists)", "kamstrup": "Kamstrup (10 s lists)", "kamstrup-dk": "Danish Kamstrup"}
TICKS = os.sysconf("SC_CLK_TCK")
# The recorder commits every 5 s; this much after the last telegram, every row is in.
COMMIT_WAIT = 7.0
DATABASE = "home-assistant_v2.db"
REGISTRY_WAIT = 30.0


@dataclass(frozen=True)
class Sample:
    """One instance at one moment."""

    cpu: float
    loop_cpu: float
    rows: int
    derived_rows: int
    bytes: int
    rss: int
    at: float


def _ticks(path: str) -> float:
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def derived_entity_ids(config: Path) -> list[str]:
    """The entity ids of HAN Port's worked-out figures, from the instance's entity registry."""
    path = config / ".storage" / "core.entity_registry"
    deadline = time.monotonic() + REGISTRY_WAIT
    while not path.exists() and time.monotonic() < deadline:  # written 10 s after a change
        time.sleep(0.5)
    registry = json.loads(path.read_text())
    return [
        entity["entity_id"]
        for entity in registry["data"]["entities"]
        if entity["platform"] == "han_port" and entity["unique_id"].endswith(_DERIVED_SUFFIXES)
    ]


# A unique id is the meter's id, an underscore and its description's key.
# A worked-out measurement (grid power) is written as the meter's powers are, with telegrams.
_DERIVED_SUFFIXES = tuple(
    f"_{key}"
    for key, description in DERIVED_BY_KEY.items()
    if description.state_class is not SensorStateClass.MEASUREMENT
)


def sample(hass: HomeAssistant, database: Path, derived: list[str]) -> Sample:
    pid = hass.process.pid
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT COUNT(*) FROM states").fetchone()[0]
        marks = ",".join("?" * len(derived))
        query = "SELECT COUNT(*) FROM states JOIN states_meta USING (metadata_id) WHERE states_meta.entity_id IN "
        derived_rows = connection.execute(f"{query}({marks})", derived).fetchone()[0]
        size = connection.execute("SELECT SUM(pgsize) FROM dbstat").fetchone()[0]
    ticks = _ticks(f"/proc/{pid}/stat"), _ticks(f"/proc/{pid}/task/{pid}/stat")
    return Sample(*ticks, rows, derived_rows, size, rss, time.monotonic())


def start_instance(root: Path) -> tuple[HomeAssistant, Path]:
    config = root / "config"
    config.mkdir(parents=True)
    write_config(config)
    # Both instances log at warning: a debug line per telegram is no cost a user pays.
    configuration = CONFIGURATION.replace("default: info", "default: warning").replace(
        "custom_components.han_port: debug", "custom_components.han_port: warning"
    )
    hass = HomeAssistant(config, free_port(), configuration=configuration)
    return hass, config


def add_meter(hass: HomeAssistant, port: int, update_interval: float | None) -> None:
    """Set the meter up as a user does, through the config flow (and options)."""
    flow = hass.request("POST", "/api/config/config_entries/flow", {"handler": "han_port"})
    flow = hass.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {"next_step_id": "network"})
    result = hass.configure(flow["flow_id"], {"host": "127.0.0.1", "port": port})
    if result.get("step_id") == "keys":
        result = hass.configure(flow["flow_id"], {"encryption_key": KEY.hex(), "authentication_key": AUTH_KEY.hex()})
    if result["type"] != "create_entry":
        raise RuntimeError(result)
    if update_interval is not None:
        entry_id = result["result"]["entry_id"]
        options = hass.request("POST", "/api/config/config_entries/options/flow", {"handler": entry_id})
        fields = {field["name"]: field.get("default") for field in options["data_schema"]}
        fields["update_interval"] = update_interval
        done = hass.request("POST", f"/api/config/config_entries/options/flow/{options['flow_id']}", fields)
        if done["type"] != "create_entry":
            raise RuntimeError(done)


def wait_for_telegrams(simulator: Simulator, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while len(simulator.sent) < count:
        if time.monotonic() > deadline:
            msg = f"the simulator sent {len(simulator.sent)} of {count} telegrams"
            raise RuntimeError(msg)
        time.sleep(0.2)


type Samples = tuple[Sample, Sample]
"""HAN Port's instance and the baseline's, sampled at one moment."""


def measure(
    vendor: str, telegrams: int, speed: float, update_interval: float | None
) -> tuple[Samples, Samples, list[dict[str, Any]]]:
    """Run a meter's instance beside a baseline's; return both sampled before and after the telegrams, and those."""
    with tempfile.TemporaryDirectory() as work:
        meter_hass, meter_config = start_instance(Path(work) / "meter")
        base_hass, base_config = start_instance(Path(work) / "baseline")
        meter_db, base_db = meter_config / DATABASE, base_config / DATABASE
        simulator = None
        try:
            for hass in (meter_hass, base_hass):
                hass.wait_until_up()
                hass.create_user()
            port = free_port()
            # A minute before the hour: the hourly list (energy registers) comes
            # during the warm-up, so live energy and the hour's figures are known
            # and written through the window, as on any day.
            simulator = Simulator(
                port,
                "2026-01-15T08:59:00",
                seed=3,
                speed=speed,
                start_at_client=1,
                vendor=vendor,
                keys=(KEY, AUTH_KEY) if vendor == "kamstrup-dk" else None,
            )
            add_meter(meter_hass, port, update_interval)
            # Warm-up: entities created, first hourly list in, caches filled.
            warm = len(simulator.sent) + max(10, telegrams // 5)
            wait_for_telegrams(simulator, warm, 600)
            time.sleep(COMMIT_WAIT)
            derived = derived_entity_ids(meter_config)
            first_sent = len(simulator.sent)
            before = sample(meter_hass, meter_db, derived), sample(base_hass, base_db, derived)
            wait_for_telegrams(simulator, first_sent + telegrams, 3600)
            # The stream ends with the window: the wait for the recorder's commit costs no telegram.
            simulator.stop()
            sent = simulator.sent[first_sent:]
            time.sleep(COMMIT_WAIT)
            after = sample(meter_hass, meter_db, derived), sample(base_hass, base_db, derived)
        finally:
            if simulator is not None:
                simulator.stop()
            meter_hass.stop()
            base_hass.stop()
    return before, after, sent


def bench_vendor(vendor: str, telegrams: int, speed: float, update_interval: float | None) -> dict[str, float]:
    """Measure what a vendor's meter costs Home Assistant: CPU and memory per telegram, rows and bytes per day."""
    before, after, sent = measure(vendor, telegrams, speed, update_interval)
    count = len(sent)
    meter, base = (after[0], before[0]), (after[1], before[1])
    span = (datetime.fromisoformat(sent[-1]["time"]) - datetime.fromisoformat(sent[0]["time"])).total_seconds()
    per_day = 86400 * (count - 1) / span if span > 0 else float("nan")

    def delta(pair: tuple[Sample, Sample], name: str) -> float:
        return float(getattr(pair[0], name) - getattr(pair[1], name))

    all_rows = delta(meter, "rows") - delta(base, "rows")
    derived_rows = delta(meter, "derived_rows")
    size = (delta(meter, "bytes") - delta(base, "bytes")) / count
    # Measured rows follow telegrams; worked-out figures follow the wall clock (once a minute at most).
    measured_per_day = (all_rows - derived_rows) / count * per_day
    derived_per_day = derived_rows / delta(meter, "at") * 86400
    rows_per_day = measured_per_day + derived_per_day
    bytes_per_row = size * count / all_rows if all_rows else 0.0
    return {
        "telegrams": count,
        "cpu_ms": 1000 * (delta(meter, "cpu") - delta(base, "cpu")) / count,
        "loop_ms": 1000 * (delta(meter, "loop_cpu") - delta(base, "loop_cpu")) / count,
        "rows": rows_per_day / per_day,
        "bytes": bytes_per_row * rows_per_day / per_day,
        "telegrams_per_day": per_day,
        "mib_per_day": bytes_per_row * rows_per_day / 2**20,
        "rows_per_hour": rows_per_day / 24,
        "rss_kib_per_1000": (delta(meter, "rss") - delta(base, "rss")) / 1024 / count * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--telegrams", type=int, default=1000, help="telegrams measured per vendor (default 1000)")
    parser.add_argument("--speed", type=float, default=10, help="simulator speed (default 10: Aidon 4 telegrams/s)")
    parser.add_argument("--vendors", default=",".join(VENDORS), help=f"comma-separated, of {', '.join(VENDORS)}")
    parser.add_argument("--update-interval", type=float, help="HAN Port's update-rate option, in meter seconds")
    args = parser.parse_args()
    # The option is in real seconds; the simulator's clock runs `speed` times faster.
    interval = args.update_interval / args.speed if args.update_interval is not None else None
    print(
        f"Home Assistant per telegram, beyond an instance without a meter ({args.telegrams} telegrams per vendor, "
        f"simulator at {args.speed:g}x"
        + (f", update interval {args.update_interval:g} s of meter time" if interval is not None else "")
        + ")"
    )
    header = (
        f"{'vendor':<24}{'CPU ms':>8}{'loop ms':>9}{'rows':>7}{'bytes':>8}{'MiB/day':>9}{'rows/h':>8}{'RSS KiB/1k':>12}"
    )
    print(header)
    for vendor in args.vendors.split(","):
        result = bench_vendor(vendor, args.telegrams, args.speed, interval)
        print(
            f"{VENDORS[vendor]:<24}{result['cpu_ms']:>8.2f}{result['loop_ms']:>9.2f}{result['rows']:>7.2f}"
            f"{result['bytes']:>8.0f}{result['mib_per_day']:>9.2f}{result['rows_per_hour']:>8.0f}"
            f"{result['rss_kib_per_1000']:>12.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
