"""Constants for HAN Port."""

from typing import Final

DOMAIN: Final = "han_port"
