"""The command line decodes captures into JSON Lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from custom_components.han_port.decoder import DropReason, mbus_frames
from custom_components.han_port.decoder.__main__ import main
from simulator import frames as encoder
from simulator.frames import MeterState

ROOT = Path(__file__).resolve().parents[1]


def kamstrup_hourly() -> bytes:
    apdu = encoder.data_notification(encoder.kamstrup_list(MeterState(), hourly=True), MeterState().moment)
    return encoder.hdlc_frames(apdu)


def test_raw_file_to_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "capture.bin"
    damaged = bytearray(kamstrup_hourly())
    damaged[-3] ^= 0x55
    capture.write_bytes(
        kamstrup_hourly() + bytes(damaged) + encoder.p1_telegram("KAM5", ["1-0:1.7.0(0001.453*kW)", "1-0:99.97.0(1)"])
    )
    assert main([str(capture)]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["format"] == "hdlc"
    assert first["manufacturer"] == "Kamstrup"
    assert first["list_version"] == "Kamstrup_V0001"
    assert first["meter_id"] == MeterState().meter_id
    assert first["timestamp"] == "2024-01-15T13:00:10"
    assert first["values"]["1-1:1.7.0.255"] == {"value": 1703, "unit": "W"}
    assert first["values"]["1-1:31.7.0.255"] == {"value": 1.36, "unit": "A"}
    assert first["values"]["1-1:1.8.0.255"] == {"value": 155232510, "unit": "Wh"}
    assert first["left_out"] == []
    assert lines[1]["format"] == "p1"
    assert lines[1]["values"] == {"1-0:1.7.0.255": {"value": 1453, "unit": "W"}}
    # An event log's length is no quantity: named as left out, never a value.
    assert lines[1]["left_out"] == ["1-0:99.97.0.255"]
    assert err.strip().splitlines() == ["dropped (bad_checksum): HDLC frame check sequence (FCS) mismatch"]


def test_p1_variants_print_their_values_and_whether_a_crc_checked_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "p1.txt"
    without_crc = encoder.p1_telegram(
        "ISk5\\2MT382-1004", ["1-0:1.8.1(00012.345*kWh)", "1-0:1.7.0(0001.21*kW)"], crc=False
    )
    fluvius = encoder.p1_telegram("FLU5\\253769484_A", ["1-0:1.4.0(02.351*kW)", "1-0:1.6.0(200509134558S)(02.589*kW)"])
    capture.write_bytes(without_crc + fluvius)
    assert main([str(capture)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["checksummed"] is False
    assert first["values"] == {
        "1-0:1.8.1.255": {"value": 12345, "unit": "Wh"},
        "1-0:1.7.0.255": {"value": 1210, "unit": "W"},
    }
    assert second["checksummed"] is True
    assert second["values"] == {
        "1-0:1.4.0.255": {"value": 2351, "unit": "W"},
        "1-0:1.6.0.255": {"value": 2589, "unit": "W"},
    }


def test_hex_from_stdin_with_keys_in_a_subprocess() -> None:
    key, auth_key = bytes(range(16)), bytes(range(16, 32))
    apdu = encoder.data_notification(encoder.kamstrup_push1_list(MeterState()), MeterState().moment)
    frame = encoder.hdlc_frames(encoder.glo_cipher(apdu, key, auth_key))
    hex_text = " ".join(f"0x{byte:02X}" for byte in frame[:20]) + "\n" + ":".join(f"{b:02x}" for b in frame[20:])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "custom_components.han_port.decoder",
            "--hex",
            "--key",
            key.hex(" "),
            "--auth-key",
            "0x" + auth_key.hex(),
        ],
        input=hex_text.encode(),
        capture_output=True,
        cwd=ROOT,
        check=True,
    )
    (line,) = result.stdout.decode().splitlines()
    decoded = json.loads(line)
    assert decoded["values"]["1-1:13.7.0.255"] == {"value": 0.99, "unit": None}
    assert decoded["meter_id"] == "90941742"


def test_the_command_needs_no_home_assistant() -> None:
    """A user decoding a capture needs the standard library and cryptography only."""
    frame = encoder.hdlc_frames(
        encoder.data_notification(encoder.kamstrup_list(MeterState(), hourly=False), MeterState().moment)
    )
    # Home Assistant made unimportable: any import of it would fail the run.
    program = (
        "import runpy, sys; sys.modules['homeassistant'] = None; sys.argv = ['decoder', '--hex']; "
        "runpy.run_module('custom_components.han_port.decoder', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], input=frame.hex().encode(), capture_output=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    (line,) = result.stdout.decode().splitlines()
    assert json.loads(line)["values"]["1-1:1.7.0.255"] == {"value": 1703, "unit": "W"}


def _kamstrup_apdu() -> bytes:
    return encoder.data_notification(encoder.kamstrup_list(MeterState(), hourly=True), MeterState().moment)


@pytest.mark.parametrize(
    ("capture", "line"),
    [
        (
            kamstrup_hourly()[:100],
            "dropped (undecodable): the input ends inside an HDLC frame: 100 of its 289 bytes came",
        ),
        (
            encoder.hdlc_frames(_kamstrup_apdu(), segment_size=80)[:200],
            "dropped (undecodable): the input ends inside a message of HDLC segments: 2 came, its last never did",
        ),
        (
            mbus_frames(_kamstrup_apdu(), segment_size=100)[:150],
            "dropped (undecodable): the input ends inside a message of M-Bus long frames: 1 came, its last never did",
        ),
        (
            mbus_frames(_kamstrup_apdu())[:150],
            "dropped (undecodable): the input ends inside an M-Bus long frame: 150 of its 256 bytes came",
        ),
        (
            encoder.hdlc_frames(encoder.general_block_transfer(_kamstrup_apdu(), 100)[0]),
            "dropped (undecodable): the input ends inside a general-block-transfer: 1 block(s) came, its last never did",
        ),
        (
            encoder.glo_cipher(encoder.p1_telegram("SMA5", ["1-0:1.7.0(0001.453*kW)"]), bytes(16), bytes(16))[:40],
            "dropped (undecodable): the input ends inside a ciphered APDU: 40 of its 68 bytes came",
        ),
        (
            _kamstrup_apdu()[:120],
            (
                "dropped (undecodable): the input ends inside a data-notification: 120 bytes came, the rest of"
                " its body never did"
            ),
        ),
        (
            encoder.p1_telegram("KAM5", ["1-0:1.7.0(0001.453*kW)"])[:20],
            (
                "dropped (undecodable): the input ends inside a P1 telegram: 20 bytes came,"
                " its end ('!', and a CRC if it carries one) never did"
            ),
        ),
        (bytes(range(256)) * 2, "dropped (unrecognised): no frame, APDU or telegram in 512 bytes"),
        (b"", "the input is empty: nothing to decode"),
    ],
    ids=[
        "hdlc",
        "hdlc-segments",
        "mbus-segments",
        "mbus",
        "block-transfer",
        "ciphered",
        "bare",
        "p1",
        "noise",
        "empty",
    ],
)
def test_a_capture_that_ends_mid_frame_or_holds_none_says_so(
    capture: bytes, line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture's end is the one place a frame can be cut for good: never silence."""
    path = tmp_path / "capture.bin"
    path.write_bytes(capture)
    assert main([str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [line]


def test_wrong_key_is_reported_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    apdu = encoder.data_notification(encoder.kamstrup_push1_list(MeterState()), None)
    capture = tmp_path / "dk.bin"
    capture.write_bytes(encoder.hdlc_frames(encoder.glo_cipher(apdu, bytes(16), bytes(16))))
    assert main(["--key", "01" * 16, "--auth-key", "00" * 16, str(capture)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("dropped (key_rejected): the authentication tag does not match")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--key", "abc"], "32 hexadecimal digits"),
        (["--key", "zz" * 16], "32 hexadecimal digits"),
        (["/no/such/capture"], "cannot read /no/such/capture"),
    ],
)
def test_bad_arguments_exit_with_usage_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_non_hex_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "capture.txt"
    capture.write_text("7E A0 ZZ")
    with pytest.raises(SystemExit):
        main(["--hex", str(capture)])
    assert "not hex text" in capsys.readouterr().err


def test_messages_one_a_line_as_mosquitto_sub_prints_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mosquitto_sub -t T -F %x | ... --messages`: each line one message, whatever its shape."""
    apdu = encoder.data_notification(encoder.kamstrup_list(MeterState(), hourly=True), MeterState().moment)
    frame = encoder.hdlc_frames(apdu)
    lines = [frame.hex(), apdu.hex(), b'{"status": "online"}'.hex(), frame[:30].hex(), frame[30:].hex()]
    capture = tmp_path / "messages.txt"
    capture.write_text("\n".join(lines) + "\n")
    assert main(["--messages", str(capture)]) == 0
    out, err = capsys.readouterr()
    telegrams = [json.loads(line) for line in out.splitlines()]
    assert [telegram["format"] for telegram in telegrams] == ["hdlc", "apdu", "hdlc"]
    assert {telegram["values"]["1-1:1.7.0.255"]["value"] for telegram in telegrams} == {1703}
    [dropped] = err.strip().splitlines()
    assert dropped.startswith("dropped (unrecognised): not a frame, APDU or telegram: hex text of 20 bytes of text")
    assert dropped.endswith("""starting '{"status": "onli'""")


def test_p1_telegrams_as_messages_come_as_hex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A P1 telegram's text is many lines: as messages, one a line, it comes as `mosquitto_sub -F %x` prints it."""
    with_crc = encoder.p1_telegram("KFM5KAIFA-METER", ["1-0:1.7.0(02.027*kW)"])
    without_crc = encoder.p1_telegram("ISk5\\2MT382-1004", ["1-0:1.7.0(0001.21*kW)"], crc=False)
    capture = tmp_path / "messages.txt"
    capture.write_text(f"{without_crc.hex()}\n{with_crc.hex()}\n")
    assert main(["--messages", str(capture)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert [json.loads(line)["values"]["1-0:1.7.0.255"]["value"] for line in out.splitlines()] == [1210, 2027]


def test_the_readme_names_every_reason_a_drop_is_printed_with() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Decoding a capture\n", 1)[1].split("\n## ", 1)[0]
    assert {reason.value for reason in DropReason if f"`{reason.value}`" not in section} == set()
