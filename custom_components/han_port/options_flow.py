"""Options a user tunes after setup: a current-transformer ratio, the capacity charge, the update rate.

The capacity charge is a named model (Norway's, or a Swedish grid
company's) or the user's own rule, asked for on a second form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .bookkeeping import custom_rule_options, thresholds_option
from .capacity import (
    CAPACITY_MODELS,
    CUSTOM_MODEL,
    DEFAULT_CAPACITY_MODEL,
    DEFAULT_PEAK_DAYS,
    format_hours,
    format_thresholds,
    parse_hours,
    parse_thresholds,
)
from .compat import OptionsFlowBase, form_schema, form_schema_with_values
from .const import (
    CONF_CAPACITY_MODEL,
    CONF_CAPACITY_THRESHOLDS,
    CONF_COUNTED_HOURS,
    CONF_CURRENT_TRANSFORMER_RATIO,
    CONF_NIGHT_WEIGHT,
    CONF_ONE_PEAK_PER_DAY,
    CONF_PEAK_DAYS,
    CONF_UPDATE_INTERVAL,
    CONF_WEEKDAYS_ONLY,
    DEFAULT_CURRENT_TRANSFORMER_RATIO,
    DEFAULT_UPDATE_INTERVAL,
)

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigFlowResult

_BOX = NumberSelectorMode.BOX


class HanPortOptionsFlow(OptionsFlowBase):
    """Settings a user tunes: a current transformer ratio for CT meters, the capacity charge, the update rate."""

    def __init__(self) -> None:
        """Start with nothing taken."""
        self._options: dict[str, Any] = {}

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the options; a value that does not parse stays as typed, with the error on its field."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                thresholds = parse_thresholds(user_input[CONF_CAPACITY_THRESHOLDS])
            except ValueError:
                errors[CONF_CAPACITY_THRESHOLDS] = "invalid_thresholds"
            else:
                user_input[CONF_CAPACITY_THRESHOLDS] = format_thresholds(thresholds)
                user_input[CONF_PEAK_DAYS] = int(user_input[CONF_PEAK_DAYS])
                user_input[CONF_UPDATE_INTERVAL] = float(user_input.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL))
                self._options = user_input
                if user_input.get(CONF_CAPACITY_MODEL) == CUSTOM_MODEL:
                    return await self.async_step_custom_capacity()
                return self.async_create_entry(data=user_input)
        options = self.config_entry.options
        fields = {
            vol.Required(
                CONF_CURRENT_TRANSFORMER_RATIO,
                default=options.get(CONF_CURRENT_TRANSFORMER_RATIO, DEFAULT_CURRENT_TRANSFORMER_RATIO),
            ): NumberSelector(NumberSelectorConfig(min=1, max=10000, step="any", mode=_BOX)),
            vol.Required(
                CONF_CAPACITY_MODEL, default=options.get(CONF_CAPACITY_MODEL, DEFAULT_CAPACITY_MODEL)
            ): SelectSelector(
                SelectSelectorConfig(
                    options=[*CAPACITY_MODELS, CUSTOM_MODEL],
                    mode=SelectSelectorMode.DROPDOWN,
                    translation_key=CONF_CAPACITY_MODEL,
                )
            ),
            vol.Required(
                CONF_CAPACITY_THRESHOLDS,
                # What the entry reads its stored thresholds as: the form refuses no text the entry loads with.
                default=format_thresholds(thresholds_option(options)),
            ): TextSelector(),
            vol.Required(CONF_PEAK_DAYS, default=options.get(CONF_PEAK_DAYS, DEFAULT_PEAK_DAYS)): NumberSelector(
                NumberSelectorConfig(min=1, max=10, step=1, mode=_BOX)
            ),
            vol.Required(
                CONF_UPDATE_INTERVAL, default=options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
            ): NumberSelector(NumberSelectorConfig(min=0, max=3600, step="any", mode=_BOX, unit_of_measurement="s")),
        }
        # What was typed stays, a mistake included, so it can be fixed.
        schema = form_schema_with_values(self, fields, user_input) if user_input is not None else form_schema(fields)
        return self.async_show_form(
            step_id="init",
            data_schema=schema,
            errors=errors,
            description_placeholders={"meter": self.config_entry.title},
        )

    async def async_step_custom_capacity(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for a capacity charge rule of the user's own: the hours it counts, and how."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                hours = parse_hours(user_input[CONF_COUNTED_HOURS])
            except ValueError:
                errors[CONF_COUNTED_HOURS] = "invalid_hours"
            else:
                user_input[CONF_COUNTED_HOURS] = format_hours(*hours)
                user_input[CONF_NIGHT_WEIGHT] = float(user_input[CONF_NIGHT_WEIGHT])
                return self.async_create_entry(data={**self._options, **user_input})
        custom = custom_rule_options(self.config_entry.options)
        fields = {
            vol.Required(CONF_ONE_PEAK_PER_DAY, default=custom[CONF_ONE_PEAK_PER_DAY]): BooleanSelector(),
            vol.Required(CONF_COUNTED_HOURS, default=custom[CONF_COUNTED_HOURS]): TextSelector(),
            vol.Required(CONF_WEEKDAYS_ONLY, default=custom[CONF_WEEKDAYS_ONLY]): BooleanSelector(),
            vol.Required(CONF_NIGHT_WEIGHT, default=custom[CONF_NIGHT_WEIGHT]): NumberSelector(
                NumberSelectorConfig(min=0, max=1, step=0.05, mode=_BOX)
            ),
        }
        schema = form_schema_with_values(self, fields, user_input) if user_input is not None else form_schema(fields)
        return self.async_show_form(
            step_id="custom_capacity",
            data_schema=schema,
            errors=errors,
            description_placeholders={"meter": self.config_entry.title},
        )
