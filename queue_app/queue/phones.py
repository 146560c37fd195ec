"""Phone numbers: stored in E.164, never logged or shown in clear."""

from __future__ import annotations

import phonenumbers

from .errors import InvalidInput


def normalize_phone(raw: str, default_region: str) -> str:
    """E.164 form of a number as people write it (77 123 45 67, 00221…, +221…).

    Raises InvalidInput when it is not a valid number.
    """
    text = (raw or "").strip().removeprefix("tel:").removeprefix("whatsapp:")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(field="phone", reason="not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        number = _benin_ten_digits(number)
    if not phonenumbers.is_valid_number(number) and not text.startswith("+"):
        # A gateway that gives the sender with its country code but no "+" (22997123456).
        number = _with_plus(text) or number
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(field="phone", reason="not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _with_plus(text: str) -> phonenumbers.PhoneNumber | None:
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < 10:
        return None
    try:
        number = _benin_ten_digits(phonenumbers.parse("+" + digits))
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def example_phone(region: str) -> tuple[str, str]:
    """A mobile number of the region as people write it, national and international, with
    no-break spaces (a page never cuts a number): 77 123 45 67, +221 77 123 45 67."""
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return "77\u00a0123\u00a045\u00a067", "+221\u00a077\u00a0123\u00a045\u00a067"
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return national.replace(" ", "\u00a0"), international.replace(" ", "\u00a0")


def region_of(timezone: str, default_region: str) -> str:
    """The country of an office's time zone (Africa/Porto-Novo → BJ): how its citizens write
    numbers without a country code; ``default_region`` when the zone names no country."""
    from babel.core import get_global

    territory = get_global("zone_territories").get(timezone)
    return str(territory) if territory and len(territory) == 2 else default_region


def _benin_ten_digits(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber:
    """Benin's old 8-digit numbers: since 30 November 2024 every number takes "01" in front
    (97 12 34 56 → 01 97 12 34 56); people still write and store the old form."""
    national = str(number.national_number)
    if number.country_code == 229 and len(national) == 8:
        return phonenumbers.parse(f"+22901{national}")
    return number


def mask_phone(phone: str | None) -> str:
    """A number fit for logs: +22177*****67."""
    if not phone:
        return "-"
    if len(phone) <= 6:
        return "*" * len(phone)
    return phone[:6] + "*" * (len(phone) - 8) + phone[-2:]
