"""Repairs the user can act on: a held energy register is theirs to decide."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.helpers import issue_registry as ir

from .compat import form_schema
from .const import DOMAIN
from .registers import code_of_name

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .compat import FixFlowResult
    from .coordinator import HanPortCoordinator
    from .decoder import Code


class HeldRegisterFlow(RepairsFlow):
    """Take a held total as the meter's count, or keep holding it; each step says what the Energy dashboard sees."""

    def __init__(self, entry_id: str, register: Code) -> None:
        """Fix the hold of one register of one meter."""
        self._entry_id = entry_id
        self._register = register

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> FixFlowResult:  # noqa: ARG002 - a menu
        """Ask whether the held total is the meter's count."""
        return self.async_show_menu(
            step_id="init", menu_options=["accept", "keep_holding"], description_placeholders=self._placeholders()
        )

    async def async_step_accept(self, user_input: dict[str, str] | None = None) -> FixFlowResult:
        """Take the held total as the meter's count, and count on from there."""
        if user_input is None:
            return self._confirm("accept")
        coordinator = self._coordinator()
        if coordinator is None or not coordinator.accept_held_total(self._register):
            return self.async_abort(reason="not_held")
        return self.async_create_entry(data={})

    async def async_step_keep_holding(self, user_input: dict[str, str] | None = None) -> FixFlowResult:
        """Keep the last total: the guard goes on as it would, and this issue is withdrawn."""
        if user_input is None:
            return self._confirm("keep_holding")
        coordinator = self._coordinator()
        if coordinator is None or not coordinator.energy.held.keep(self._register):
            return self.async_abort(reason="not_held")
        return self.async_create_entry(data={})

    def _confirm(self, step_id: str) -> FixFlowResult:
        return self.async_show_form(
            step_id=step_id, data_schema=form_schema({}), description_placeholders=self._placeholders()
        )

    def _placeholders(self) -> dict[str, str]:
        issue = ir.async_get(self.hass).async_get_issue(DOMAIN, self.issue_id)
        return dict(issue.translation_placeholders or {}) if issue is not None else {}

    def _coordinator(self) -> HanPortCoordinator | None:
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        coordinator: HanPortCoordinator = entry.runtime_data
        return coordinator


async def async_create_fix_flow(
    hass: HomeAssistant,  # noqa: ARG001 - the platform signature
    issue_id: str,  # noqa: ARG001 - the data names the meter and the register
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """Make the fix flow of a held register (the only fixable issue this integration raises)."""
    data = data or {}
    return HeldRegisterFlow(str(data.get("entry_id", "")), code_of_name(str(data.get("register", ""))))
