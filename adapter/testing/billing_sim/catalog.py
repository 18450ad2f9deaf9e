"""The product catalogue the simulated BSCS knows: services (snCode / snCodePub), discount and
promotion codes, free-unit packages. A request naming anything else is refused, as BSCS
refuses a service that is not in its catalogue. Rate plans are not checked (any ``Code``).

The codes cover what the adapter's demo and seed data use (VOICE, SMS, DATA, ROAMING; LOYAL10,
WELCOME_DATA, CORP_FRAME; DATA_MONTH, VOICE_MONTH, SMS_MONTH) and a few more.
"""

from __future__ import annotations

from typing import Literal

# snCodePub -> snCode (the internal long). Internal codes start at 101 so that they are never
# confused with a list position.
SERVICES: dict[str, int] = {
    "VOICE": 101,
    "SMS": 102,
    "MMS": 103,
    "DATA": 104,
    "ROAMING": 105,
    "VOICEMAIL": 106,
    "CLIP": 107,
    "CLIR": 108,
    "CALL_FWD": 109,
    "CONF_CALL": 110,
    "CALL_WAIT": 111,
    "VOLTE": 112,
    "WIFI_CALL": 113,
    "HOTSPOT": 114,
    "ESIM": 115,
    "MULTISIM": 116,
    "PREMIUM_SMS": 117,
    "INTL_CALLS": 118,
    "CONTENT_BAR": 119,
    "DATA_PASS": 120,
}
SERVICES_BY_CODE: dict[int, str] = {code: pub for pub, code in SERVICES.items()}

DiscountKind = Literal["D", "P"]

# pdCode -> kind (D: discount, P: promotion)
DISCOUNTS: dict[str, DiscountKind] = {
    "LOYAL10": "D",
    "LOYAL20": "D",
    "STAFF": "D",
    "FAMILY": "D",
    "STUDENT": "D",
    "VOLUME": "D",
    "CORP_FRAME": "D",
    "WELCOME_DATA": "P",
    "WELCOME_MONTH": "P",
    "ROAM_PROMO": "P",
    "DATA_BOOST": "P",
    "BIRTHDAY": "P",
}

# fuPackId -> (fuType, granted per month)
FREE_UNIT_PACKS: dict[str, tuple[str, int]] = {
    "VOICE_MONTH": ("MIN", 300),
    "SMS_MONTH": ("SMS", 100),
    "DATA_MONTH": ("MB", 10240),
}
