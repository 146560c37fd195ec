"""The real Twilio, Android-gateway and Orange clients against local fakes of their APIs.

Sends, retries, the crash between "provider accepted" and "row marked sent"
(never a second SMS), delivery reports, and every webhook's check: valid →
handled, forged → 403 (404 for a wrong Orange secret).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from queue_app.extensions import db
from queue_app.models import (
    InboundMessage,
    MessageStatus,
    OutboundMessage,
    Site,
    SmsConversation,
    utcnow,
)
from queue_app.sms import orange, outbox, registry
from queue_app.sms.outbox import _claim, _Gateways, _outgoing, deliver_due

from .conftest import Api, build_office
from .fake_providers import TWILIO_TOKEN, FakeProviders
from .sms_helpers import ANDROID_KEY, ORANGE_HOOK, PUBLIC_URL, WHATSAPP_TEMPLATE, provider_config

PHONE = "+221771234567"


@pytest.fixture(autouse=True)
def _office_hours():
    """A weekday morning: outside the quiet hours when nothing is sent to a phone."""
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def fake():
    with FakeProviders() as providers:
        yield providers


@pytest.fixture
def app_config(fake):
    return provider_config(fake.url)


@pytest.fixture(autouse=True)
def _fresh_orange_tokens():
    orange._tokens.clear()
    yield
    orange._tokens.clear()


@pytest.fixture
def site(app):
    build_office(app)
    with app.app_context():
        return db.session.scalar(select(Site)).id


def queue_sms(app, site_id, gateway, key="k1", body="Rappel : RDV demain à 9h", channel="sms"):
    with app.app_context():
        site = db.session.get(Site, site_id)
        message = outbox.enqueue(
            db.session, site, PHONE, body, kind="test", key=key, gateway=gateway, channel=channel
        )
        db.session.commit()
        return message.id


def row(app, message_id):
    with app.app_context():
        return db.session.get(OutboundMessage, message_id)


@pytest.mark.parametrize("gateway", ["twilio", "android", "orange", "console"])
def test_a_queued_sms_is_sent_once_through_the_real_client(app, fake, site, gateway):
    message_id = queue_sms(app, site, gateway)
    with app.app_context():
        report = deliver_due(db.session)
        assert report.sent == 1
        again = deliver_due(db.session)
        assert again.sent == 0
    sent = row(app, message_id)
    assert sent.status in (MessageStatus.SENT, MessageStatus.DELIVERED)
    assert sent.provider_message_id
    if gateway != "console":
        received = fake.state.by(gateway)
        assert len(received) == 1
        assert received[0]["body"] == "Rappel : RDV demain à 9h"
        assert received[0]["to"].endswith("221771234567")


@pytest.mark.parametrize("gateway", ["twilio", "android", "orange", "console"])
def test_crash_after_the_provider_accepted_never_sends_twice(app, fake, site, gateway):
    """The worker dies after the provider took the SMS, before the row says so."""
    message_id = queue_sms(app, site, gateway)
    now = utcnow()
    with app.app_context():
        claimed = _claim(db.session, app.config, now, 10, outbox.DeliveryReport())
        assert [m for m, _ in claimed] == [message_id]
        message = db.session.get(OutboundMessage, message_id)
        gateways = _Gateways(db.session, app.config)
        gateways.get(message).send(_outgoing(db.session, message, now))  # accepted…
        gateways.close()
        db.session.rollback()  # …and the process dies here.
    assert row(app, message_id).status == MessageStatus.SENDING
    with app.app_context():
        # A restarted worker within the lease leaves it alone…
        assert deliver_due(db.session, now=now + timedelta(seconds=30)).sent == 0
        # …and after it, asks the provider (or resends with the provider's idempotency key).
        later = now + timedelta(seconds=app.config["SMS_SEND_LEASE_SECONDS"] + 1)
        deliver_due(db.session, now=later)
        deliver_due(db.session, now=later + timedelta(minutes=5))
    final = row(app, message_id)
    assert final.status in (MessageStatus.SENT, MessageStatus.DELIVERED)
    if gateway != "console":
        assert len(fake.state.by(gateway)) == 1


@pytest.mark.parametrize("gateway", ["twilio", "android"])
def test_crash_before_the_provider_got_it_sends_after_the_lease(app, fake, site, gateway):
    message_id = queue_sms(app, site, gateway)
    now = utcnow()
    with app.app_context():
        _claim(db.session, app.config, now, 10, outbox.DeliveryReport())
        later = now + timedelta(seconds=app.config["SMS_SEND_LEASE_SECONDS"] + 1)
        report = deliver_due(db.session, now=later)
    assert report.reconciled == 1
    assert report.sent == 1
    assert len(fake.state.by(gateway)) == 1
    assert row(app, message_id).status == MessageStatus.SENT


def test_a_provider_outage_is_retried_with_backoff(app, fake, site):
    message_id = queue_sms(app, site, "twilio")
    fake.state.fail_next = 2
    now = utcnow()
    with app.app_context():
        first = deliver_due(db.session, now=now)
        assert first.retried == 1
        waiting = db.session.get(OutboundMessage, message_id)
        assert waiting.status == MessageStatus.QUEUED
        assert waiting.next_attempt_at - now == timedelta(seconds=30)
        assert deliver_due(db.session, now=now + timedelta(seconds=10)).sent == 0
        assert deliver_due(db.session, now=now + timedelta(seconds=31)).retried == 1
        second_wait = db.session.get(OutboundMessage, message_id).next_attempt_at - now
        assert second_wait == timedelta(seconds=31 + 60)
        assert deliver_due(db.session, now=now + timedelta(minutes=5)).sent == 1
    done = row(app, message_id)
    assert done.attempts == 3
    assert len(fake.state.by("twilio")) == 1


def test_an_invalid_number_fails_at_once(app, fake, site):
    with app.app_context():
        site_row = db.session.get(Site, site)
        message = outbox.enqueue(
            db.session, site_row, "0000", "Bonjour", kind="test", key="bad", gateway="twilio"
        )
        db.session.commit()
        message_id = message.id
        report = deliver_due(db.session)
    assert report.failed == 1
    failed = row(app, message_id)
    assert failed.status == MessageStatus.FAILED
    assert "21211" in failed.last_error


def test_the_same_key_is_one_sms(app, fake, site):
    first = queue_sms(app, site, "twilio", key="same")
    second = queue_sms(app, site, "twilio", key="same", body="Autre texte")
    assert first == second
    with app.app_context():
        deliver_due(db.session)
    assert len(fake.state.by("twilio")) == 1


def test_a_text_longer_than_one_segment_is_refused(app, site):
    from queue_app.queue.errors import InvalidInput

    with app.app_context(), pytest.raises(InvalidInput):
        outbox.enqueue(
            db.session, db.session.get(Site, site), PHONE, "ê" * 71, kind="test", key="long"
        )


def test_sending_hours_hold_a_reminder_until_the_morning(app, fake, site):
    from datetime import UTC, datetime

    app.config["SMS_SENDING_HOURS"] = ["08:00", "17:00"]
    evening = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # Dakar = UTC
    with app.app_context():
        message = outbox.enqueue(
            db.session, db.session.get(Site, site), PHONE, "Rappel", kind="reminder", key="r",
            gateway="twilio", now=evening,
        )  # fmt: skip
        db.session.commit()
        message_id = message.id
        report = deliver_due(db.session, now=evening)
        assert report.held == 1
        held = db.session.get(OutboundMessage, message_id)
        assert held.next_attempt_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
        assert deliver_due(db.session, now=datetime(2026, 11, 24, 8, 0, 1, tzinfo=UTC)).sent == 1


def test_orange_token_is_cached_until_it_expires(app, fake, site):
    for key in ("o1", "o2", "o3"):
        queue_sms(app, site, "orange", key=key)
    with app.app_context():
        assert deliver_due(db.session).sent == 3
    assert fake.state.tokens_issued == 1
    # A token the provider expired early (401) is fetched again, once.
    orange._tokens.update({k: ("stale", v[1]) for k, v in orange._tokens.items()})
    queue_sms(app, site, "orange", key="o4")
    with app.app_context():
        assert deliver_due(db.session).sent == 1
    assert fake.state.tokens_issued == 2
    assert len(fake.state.by("orange")) == 4


def test_orange_token_expiry_fetches_a_new_one(app, fake, site):
    fake.state.token_expires_in = 0  # already expired when it arrives: never reused
    queue_sms(app, site, "orange", key="e1")
    queue_sms(app, site, "orange", key="e2")
    with app.app_context():
        assert deliver_due(db.session).sent == 2
    assert fake.state.tokens_issued == 2


def test_whatsapp_replies_in_the_window_and_uses_the_template_outside(app, fake, site):
    with app.app_context():
        site_row = db.session.get(Site, site)
        db.session.add(
            SmsConversation(
                site_id=site,
                phone=PHONE,
                channel="whatsapp",
                step="idle",
                data={},
                last_inbound_at=utcnow() - timedelta(hours=2),
                expires_at=utcnow(),
            )
        )
        outbox.enqueue(
            db.session, site_row, PHONE, "Bonjour", kind="t", key="w1", channel="whatsapp"
        )
        db.session.commit()
        deliver_due(db.session)
        conversation = db.session.scalar(select(SmsConversation))
        conversation.last_inbound_at = utcnow() - timedelta(hours=30)
        outbox.enqueue(
            db.session, site_row, PHONE, "Rappel", kind="t", key="w2", channel="whatsapp"
        )
        db.session.commit()
        deliver_due(db.session)
    inside, outside = fake.state.by("twilio")
    assert inside["to"] == "whatsapp:" + PHONE
    assert inside["from"] == "whatsapp:+14155238886"
    assert inside["content_sid"] is None
    assert outside["content_sid"] == WHATSAPP_TEMPLATE
    assert outside["body"] == "Rappel"


# --- webhooks -------------------------------------------------------------------------


def twilio_post(client, form, *, url=f"{PUBLIC_URL}/sms/twilio", token=TWILIO_TOKEN):
    signature = RequestValidator(token).compute_signature(url, form)
    return client.post("/sms/twilio", data=form, headers={"X-Twilio-Signature": signature})


def test_twilio_webhook_signed_for_the_public_url_is_handled_behind_a_proxy(app, fake, site):
    client = app.test_client()  # the request itself arrives for http://localhost/
    form = {"From": "whatsapp:" + PHONE, "To": "whatsapp:+14155238886", "Body": "AIDE",
            "MessageSid": "SM" + "1" * 32}  # fmt: skip
    response = twilio_post(client, form)
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert b"<Response>" in response.data
    # Twilio retries the same webhook: nothing is answered twice.
    assert twilio_post(client, form).status_code == 200
    with app.app_context():
        replies = db.session.scalars(select(OutboundMessage)).all()
        assert len(replies) == 1
        assert replies[0].channel == "whatsapp"
        assert replies[0].gateway == "twilio"
        assert "RDV" in replies[0].body
        assert db.session.scalar(select(InboundMessage)).provider_message_id == form["MessageSid"]


def test_twilio_webhook_forged_or_unsigned_is_refused(app, fake, site):
    client = app.test_client()
    form = {"From": PHONE, "To": "+15005550006", "Body": "RDV", "MessageSid": "SM" + "2" * 32}
    assert twilio_post(client, form, token="not the token").status_code == 403
    assert twilio_post(client, form, url="http://localhost/sms/twilio").status_code == 403
    assert client.post("/sms/twilio", data=form).status_code == 403
    with app.app_context():
        assert db.session.scalars(select(InboundMessage)).all() == []


def test_twilio_status_callback_records_delivery(app, fake, site):
    message_id = queue_sms(app, site, "twilio")
    with app.app_context():
        deliver_due(db.session)
    sid = row(app, message_id).provider_message_id
    assert fake.state.by("twilio")[0]["status_callback"] == f"{PUBLIC_URL}/sms/twilio"
    form = {"MessageSid": sid, "MessageStatus": "delivered", "To": PHONE, "From": "+15005550006"}
    assert twilio_post(app.test_client(), form).status_code == 200
    assert row(app, message_id).status == MessageStatus.DELIVERED


def android_post(client, event, *, key=ANDROID_KEY, timestamp=None, query=""):
    body = json.dumps(event).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(key.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    return client.post(
        "/sms/android" + query,
        data=body,
        headers={"X-Signature": signature, "X-Timestamp": stamp,
                 "Content-Type": "application/json"},
    )  # fmt: skip


def received(event_id, text, phone="+221771234567"):
    return {
        "deviceId": "ffff0000",
        "event": "sms:received",
        "id": event_id,
        "webhookId": "wh1",
        "payload": {"messageId": "abc", "message": text, "phoneNumber": phone, "simNumber": 1,
                    "receivedAt": "2026-11-23T09:00:00.000+00:00"},
    }  # fmt: skip


def test_android_webhook_signed_is_handled_once(app, fake, site):
    client = app.test_client()
    assert android_post(client, received("ev1", "aide")).status_code == 200
    assert android_post(client, received("ev1", "aide")).status_code == 200
    with app.app_context():
        replies = db.session.scalars(select(OutboundMessage)).all()
        assert [r.gateway for r in replies] == ["android"]


def test_android_webhook_forged_or_replayed_is_refused(app, fake, site):
    client = app.test_client()
    assert android_post(client, received("ev2", "RDV"), key="wrong").status_code == 403
    old = int(time.time()) - 3600
    assert android_post(client, received("ev3", "RDV"), timestamp=old).status_code == 403
    assert client.post("/sms/android", json=received("ev4", "RDV")).status_code == 403
    with app.app_context():
        assert db.session.scalars(select(InboundMessage)).all() == []


def test_android_delivery_report(app, fake, site):
    message_id = queue_sms(app, site, "android")
    with app.app_context():
        deliver_due(db.session)
    provider_id = row(app, message_id).provider_message_id
    event = {"event": "sms:delivered", "id": "ev9",
             "payload": {"messageId": provider_id, "phoneNumber": PHONE}}  # fmt: skip
    assert android_post(app.test_client(), event).status_code == 200
    assert row(app, message_id).status == MessageStatus.DELIVERED


def test_orange_callback_needs_the_secret_in_its_url(app, fake, site):
    client = app.test_client()
    inbound = {"inboundSMSMessageNotification": {"inboundSMSMessage": {
        "senderAddress": "tel:+221771234567", "destinationAddress": "tel:+221770000000",
        "message": "Aide", "messageId": "or-1", "dateTime": "2026-11-23T09:00:00Z"}}}  # fmt: skip
    assert client.post("/sms/orange/wrong-secret", json=inbound).status_code == 404
    assert client.post(f"/sms/orange/{ORANGE_HOOK}", json=inbound).status_code == 200
    with app.app_context():
        assert [r.gateway for r in db.session.scalars(select(OutboundMessage))] == ["orange"]


def test_orange_delivery_report_names_our_message(app, fake, site):
    message_id = queue_sms(app, site, "orange", key="report-me")
    with app.app_context():
        deliver_due(db.session)
    report = {"deliveryInfoNotification": {"callbackData": "report-me", "deliveryInfo": {
        "address": "tel:+221771234567", "deliveryStatus": "DeliveredToTerminal"}}}  # fmt: skip
    assert app.test_client().post(f"/sms/orange/{ORANGE_HOOK}", json=report).status_code == 200
    assert row(app, message_id).status == MessageStatus.DELIVERED


def test_a_site_has_its_own_gateway_and_its_secrets_are_never_returned(app, fake, site):
    api = Api(app, build_office(app, slug="kaolack"))
    body = {"gateway": "android",
            "options": {"base_url": fake.url + "/3rdparty/v1", "login": "gateway"},
            "secrets": {"password": "android-password", "signing_key": "kaolack-key"}}  # fmt: skip
    response = api.put("sites/kaolack/sms-gateway", "manager", json=body)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["gateway"] == "android"
    assert answer["secrets_set"] == ["password", "signing_key"]
    assert "android-password" not in response.get_data(as_text=True)
    assert "kaolack-key" not in api.get("sites/kaolack/sms-gateway", "manager").get_data(True)
    assert api.get("sites/kaolack/sms-gateway", "agent").status_code == 403
    # Changing an option keeps the stored secrets.
    api.put("sites/kaolack/sms-gateway", "manager",
            json={"gateway": "android", "options": {"login": "gateway"}})  # fmt: skip
    with app.app_context():
        kaolack = db.session.scalar(select(Site).where(Site.slug == "kaolack"))
        assert registry.gateway_name(db.session, kaolack, app.config) == "android"
        settings = registry.site_settings(db.session, kaolack.id)
        assert settings.secrets["signing_key"] == "kaolack-key"
    # Its phone's webhooks are checked with its own key.
    client = app.test_client()
    assert android_post(client, received("k1", "AIDE"), query="?site=kaolack").status_code == 403
    ok = android_post(client, received("k2", "AIDE"), key="kaolack-key", query="?site=kaolack")
    assert ok.status_code == 200
