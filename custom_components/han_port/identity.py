"""Which meter is sending: its id is its identity, not a reading.

Pure logic, no Home Assistant. One telegram that names another meter (by
its id, or by its maker) is line damage or a stray frame until several in a
row agree; only then has the meter really been replaced.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

from .const import CONF_GENERATED_ID, CONF_LIST_VERSION, CONF_MANUFACTURER, CONF_METER_TYPE, DOMAIN
from .decoder import Maker

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .decoder import Telegram

# Telegrams in a row that must name the same other meter before it is
# believed: a flipped bit in a stream without a checksum names another meter
# now and then, but never the same one several times running.
NEW_METER_TELEGRAMS = 3
# Telegrams in a row of another make that names no id before it takes over a
# meter known by its id: a meter that names its id does so at least every
# 10 s, far sooner, and then is known by it.
NAMELESS_METER_TELEGRAMS = 30
# Makers whose every push names its maker or its meter: Kamstrup's lists carry
# both, and a Kaifa's 2 s list, its power alone, is read by the Kaifa table
# (so named). A push that names neither, on such a meter's line, is another
# meter's short list (an Aidon's 2.5 s list carries its power alone), unless
# nothing else comes for NAMELESS_TAKEOVER_TELEGRAMS in a row: 15 minutes of
# 2.5 s pushes, far longer than a bridge of the known meter is away and back.
# Aidon's short lists, and the lists of makers that lists do not name, are
# nameless: on their lines such a push may be the meter's own.
NAMED_IN_EVERY_PUSH = frozenset({Maker.KAMSTRUP, Maker.KAIFA})
NAMELESS_TAKEOVER_TELEGRAMS = 360
# A maker named once among the telegrams that taught a meter known by its
# maker alone its id may be one stray frame's (the id-only lists after it the
# meter's own); named twice, it is the newcomer's. Named once or never, it
# stays in doubt for the next MAKER_DOUBT_TELEGRAMS telegrams naming the id:
# a new meter whose lists name their maker now and then names it three times
# beside its id in so few, damaged frames naming one other maker never.
STRAY_MAKER_NAMINGS = 1
MAKER_DOUBT_TELEGRAMS = 30


class Identity(Enum):
    """What a telegram's maker and meter id say about who is sending."""

    SAME = auto()
    """The known meter, or a telegram that names nothing of it."""
    NEW_FACT = auto()
    """The known meter as far as it tells, naming again a fact of it not known before (its id where none was
    heard), not yet believed: the telegram is not shown."""
    UNCONFIRMED = auto()
    """Another meter, not (yet) believed: the telegram is not shown."""
    REPLACED = auto()
    """Another meter, named by enough telegrams in a row: the known one was replaced."""


@dataclass(frozen=True, slots=True)
class Claim:
    """Who a telegram says sent it: its maker and its meter id, each where it names one."""

    manufacturer: str | None
    meter_id: str | None


@dataclass
class MeterIdentity:
    """Who is sending (maker and meter id, as far as known), and a claim that may be taking over.

    A fact not known before (an id where none was heard) is as doubtful as one
    that contradicts: a stray frame or a damaged one names it once, the meter
    several times running.
    """

    meter_id: str | None
    manufacturer: str | None = None
    newcomer: Claim | None = None
    newcomer_telegrams: int = 0
    newcomer_makers: int = 0
    """Of the newcomer's telegrams, those that named its maker."""
    doubt_telegrams: int = 0
    """Telegrams naming the id, learned without the meter's maker beside it, in which another maker named there
    may still prove it a new meter's (0: none)."""
    rival_maker: str | None = None
    """Another maker named beside an id in doubt, too seldom to believe yet."""
    rival_telegrams: int = 0
    nameless_telegrams: int = 0
    """Telegrams in a row that named nothing, on the line of a meter that names itself in every push."""

    def check(self, manufacturer: str | None, meter_id: str | None) -> Identity:
        """Judge a telegram's claim; after REPLACED (or a new fact believed) the newcomer is the meter."""
        claim = Claim(manufacturer, meter_id)
        if claim == Claim(None, None) and self.manufacturer in NAMED_IN_EVERY_PUSH:
            self.nameless_telegrams += 1
            if self.nameless_telegrams < NAMELESS_TAKEOVER_TELEGRAMS:
                return Identity.UNCONFIRMED
            # Nothing but nameless pushes for so long: the meter was replaced by one that names nothing.
            self.manufacturer = self.meter_id = self.newcomer = None
            self.newcomer_telegrams = self.nameless_telegrams = 0
            self._end_doubt()
            return Identity.REPLACED
        self.nameless_telegrams = 0
        if meter_id is not None and meter_id == self.meter_id:
            # The id proves the meter, whatever maker one of its lists is read as.
            self.manufacturer = self.manufacturer or manufacturer
            self.newcomer, self.newcomer_telegrams = None, 0
            return self._beside_its_id(manufacturer)
        if not self._is_new(claim):
            if self.newcomer is not None and contradict(claim, self.newcomer):
                self.newcomer, self.newcomer_telegrams = None, 0
            return Identity.SAME
        newcomer = self.newcomer
        if newcomer is not None and claim.meter_id == newcomer.meter_id and not contradict(claim, newcomer):
            # The newcomer again, its maker named or not (lists differ in what they carry).
            newcomer = self.newcomer = Claim(newcomer.manufacturer or claim.manufacturer, newcomer.meter_id)
            self.newcomer_telegrams += 1
            self.newcomer_makers += claim.manufacturer is not None
        elif newcomer is None or not _names_less(claim, newcomer):
            newcomer, self.newcomer, self.newcomer_telegrams = claim, claim, 1
            self.newcomer_makers = int(claim.manufacturer is not None)
        # else: a shorter list of the newcomer (its maker, no id) neither confirms it nor denies it.
        if self.newcomer_telegrams < NEW_METER_TELEGRAMS:
            # Told twice in a row, a fact that contradicts nothing known is the meter's own as far as it tells:
            # strangers taking turns (two bridges on one topic) never tell one twice.
            told_again = self.newcomer_telegrams > 1 and not self._contradicted_by(claim)
            return Identity.NEW_FACT if told_again else Identity.UNCONFIRMED
        return self._believe(newcomer)

    def _beside_its_id(self, manufacturer: str | None) -> Identity:
        """Judge the maker a telegram names beside the meter's id, while the id is in doubt.

        The known maker named there proves the id the meter's. Another maker
        named there NEW_METER_TELEGRAMS times first is the maker of a new
        meter, which the id belongs to: the known one was replaced.
        """
        if not self.doubt_telegrams:
            return Identity.SAME
        self.doubt_telegrams -= 1
        if manufacturer is None or manufacturer == self.manufacturer:
            if manufacturer is not None or not self.doubt_telegrams:
                self._end_doubt()
            return Identity.SAME
        if manufacturer != self.rival_maker:
            self.rival_maker, self.rival_telegrams = manufacturer, 0
        self.rival_telegrams += 1
        if self.rival_telegrams >= NEW_METER_TELEGRAMS:
            self.manufacturer = manufacturer
            self._end_doubt()
            return Identity.REPLACED
        if not self.doubt_telegrams:
            self._end_doubt()
        return Identity.SAME

    def _end_doubt(self) -> None:
        self.doubt_telegrams, self.rival_maker, self.rival_telegrams = 0, None, 0

    def _contradicted_by(self, claim: Claim) -> bool:
        """Whether a claim names the known meter's maker or id otherwise: another meter's."""
        return contradict(claim, Claim(self.manufacturer, self.meter_id))

    def _is_new(self, claim: Claim) -> bool:
        """Whether the claim names something the known meter is not, or is not known to be."""
        return (claim.manufacturer is not None and claim.manufacturer != self.manufacturer) or (
            claim.meter_id is not None and claim.meter_id != self.meter_id
        )

    def _believe(self, newcomer: Claim) -> Identity:
        """Take what several telegrams in a row claimed: unknown facts are learned, contradicted ones replaced.

        A meter known by its id is replaced by one that names its own, or by
        one of another make that names none for NAMELESS_METER_TELEGRAMS in a
        row: the maker alone does not tell which meter took over sooner. A
        meter known by its maker alone learns the id, its maker in doubt,
        unless another maker was named more than STRAY_MAKER_NAMINGS times.
        """
        contradicts = self._contradicted_by(newcomer)
        if (
            contradicts
            and newcomer.meter_id is None
            and self.meter_id is not None
            and self.newcomer_telegrams < NAMELESS_METER_TELEGRAMS
        ):
            return Identity.UNCONFIRMED
        self.newcomer, self.newcomer_telegrams = None, 0
        if (
            self.meter_id is None
            and None not in (self.manufacturer, newcomer.meter_id)
            and newcomer.manufacturer != self.manufacturer
            and self.newcomer_makers <= STRAY_MAKER_NAMINGS
        ):
            # An id learned without the known maker beside it: the meter's own id-only lists, or a new meter's whose
            # lists name their maker now and then, or never. Another maker named once (one stray frame's, say) is
            # its rival, and the maker stays in doubt a while (_beside_its_id).
            self.meter_id = newcomer.meter_id
            self.doubt_telegrams = MAKER_DOUBT_TELEGRAMS
            self.rival_maker, self.rival_telegrams = newcomer.manufacturer, self.newcomer_makers
            return Identity.SAME
        if contradicts:
            self.manufacturer, self.meter_id = newcomer.manufacturer, newcomer.meter_id
            self._end_doubt()
            return Identity.REPLACED
        self.manufacturer = newcomer.manufacturer or self.manufacturer
        self.meter_id = newcomer.meter_id or self.meter_id
        return Identity.SAME


def contradict(one: Claim, other: Claim) -> bool:
    """Whether two claims name the same fact otherwise: two makers, or two ids."""
    return (None not in (one.manufacturer, other.manufacturer) and one.manufacturer != other.manufacturer) or (
        None not in (one.meter_id, other.meter_id) and one.meter_id != other.meter_id
    )


def _names_less(claim: Claim, newcomer: Claim) -> bool:
    """Whether a claim agrees with the newcomer on what it names, naming less (a short list without the id)."""
    return (
        claim.meter_id is None and newcomer.meter_id is not None and claim.manufacturer in (None, newcomer.manufacturer)
    )


def made_up_id() -> str:
    """Make up an identity for a meter that names none: kept wherever it moves, its sensors' unique ids carry it."""
    return uuid.uuid4().hex


def address_id(address: str, manufacturer: str | None) -> str:
    """Make up an identity for a meter that names none from where it is read, and its make where it names that.

    Deleted and set up again where it was, such a meter gets the same one
    back, and with it its sensors' entity ids, history and meter hours, as a
    meter that names itself does; a meter of another make set up there is
    another. Like any, it is kept wherever the meter moves.
    """
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{DOMAIN}:{address}#{manufacturer or ''}").hex


def meter_number(meter_id: str | None, unique_id: str | None) -> str:
    """Tell a meter apart in its names: by its number, or by the start of the id made up for it."""
    return meter_id or (unique_id or "")[:6]


def meter_title(manufacturer: str | None, meter_id: str | None, unique_id: str | None) -> str:
    """Name a meter apart from any other: maker and meter number."""
    return f"{manufacturer or 'Meter'} {meter_number(meter_id, unique_id)}".strip()


def replacing_meter_entry(data: Mapping[str, Any], telegram: Telegram, new: str) -> tuple[dict[str, Any], str]:
    """Return an entry's data and title once a new meter (known by new) replaced its meter.

    The old meter's maker, type and list are not the new one's: it says its own, or none is shown.
    """
    known = {
        CONF_MANUFACTURER: telegram.manufacturer,
        CONF_METER_TYPE: telegram.meter_type,
        CONF_LIST_VERSION: telegram.list_version,
    }
    replaced = {key: value for key, value in data.items() if key not in known}
    replaced.update({key: value for key, value in known.items() if value})
    replaced[CONF_GENERATED_ID] = telegram.meter_id is None
    return replaced, meter_title(replaced.get(CONF_MANUFACTURER), telegram.meter_id, new)
