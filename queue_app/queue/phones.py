"""Phone numbers: stored in E.164, never logged or shown in clear."""

from __future__ import annotations

import phonenumbers

from .errors import InvalidInput


def normalize_phone(raw: str, default_region: str) -> str:
    """E.164 form of a number as people write it (77 123 45 67, 00221…, +221…).

    Raises InvalidInput when it is not a valid number.
    """
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(field="phone", reason="not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        number = _benin_ten_digits(number)
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(field="phone", reason="not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
