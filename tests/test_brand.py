"""The integration's icon and logo: the sizes Home Assistant asks for, served by the release itself."""

from __future__ import annotations

import struct
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from homeassistant.setup import async_setup_component

from custom_components.han_port.const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

BRAND = Path(__file__).resolve().parents[1] / "custom_components" / DOMAIN / "brand"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's header chunk, which always comes first."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize(
    ("name", "side"),
    [("icon.png", 256), ("icon@2x.png", 512)],
)
def test_icons_are_the_square_sizes_home_assistant_asks_for(name: str, side: int) -> None:
    assert png_size(BRAND / name) == (side, side)


@pytest.mark.parametrize(
    ("name", "shortest", "longest"),
    [("logo.png", 128, 256), ("dark_logo.png", 128, 256), ("logo@2x.png", 256, 512), ("dark_logo@2x.png", 256, 512)],
)
def test_logos_keep_their_shortest_side_in_home_assistants_range(name: str, shortest: int, longest: int) -> None:
    width, height = png_size(BRAND / name)
    assert shortest <= min(width, height) <= longest
    # A logo is the wide picture: the icon stands for the integration where room is short.
    assert width > height


@pytest.mark.skipif(
    find_spec("homeassistant.components.brands") is None,
    reason="Home Assistant serves a custom integration's own brand images from 2026.3; older releases read the brands CDN",
)
@pytest.mark.parametrize(
    ("image", "file"),
    [
        ("icon.png", "icon.png"),
        ("icon@2x.png", "icon@2x.png"),
        ("logo.png", "logo.png"),
        ("dark_logo@2x.png", "dark_logo@2x.png"),
        # No dark icon of its own: the light one reads on either background.
        ("dark_icon.png", "icon.png"),
    ],
)
async def test_home_assistant_serves_the_integrations_own_images(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, image: str, file: str
) -> None:
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    response = await client.get(f"/api/brands/integration/{DOMAIN}/{image}")
    assert response.status == 200
    assert await response.read() == (BRAND / file).read_bytes()
