"""Shared set-up of the SMS tests: settings pointing every provider at the local fakes."""

from __future__ import annotations

from typing import Any

from .fake_providers import (
    ANDROID_LOGIN,
    ANDROID_PASSWORD,
    ORANGE_ID,
    ORANGE_SECRET,
    TWILIO_SID,
    TWILIO_TOKEN,
)

PUBLIC_URL = "https://guichet.example.sn"
ANDROID_KEY = "android-signing-key"
ORANGE_HOOK = "orange-hook-secret-123"
WHATSAPP_TEMPLATE = "HX" + "a" * 32


def provider_config(url: str) -> dict[str, Any]:
    return {
        "PUBLIC_URL": PUBLIC_URL,
        "SMS_GATEWAY": "twilio",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_URL": url,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "TWILIO_WHATSAPP_CONTENT_SID": WHATSAPP_TEMPLATE,
        "ANDROID_SMS_URL": url + "/3rdparty/v1",
        "ANDROID_SMS_LOGIN": ANDROID_LOGIN,
        "ANDROID_SMS_PASSWORD": ANDROID_PASSWORD,
        "ANDROID_SMS_SIGNING_KEY": ANDROID_KEY,
        "ORANGE_SMS_URL": url,
        "ORANGE_CLIENT_ID": ORANGE_ID,
        "ORANGE_CLIENT_SECRET": ORANGE_SECRET,
        "ORANGE_SENDER": "+221770000000",
        "ORANGE_WEBHOOK_SECRET": ORANGE_HOOK,
        # Tests run at any hour of the day.
        "SMS_SENDING_HOURS": ["00:00", "23:59"],
    }
