"""A day or time outside what can be booked is answered with what is wrong (too far, past,
closed, full, no such time) and what is possible, never a bare "not free"."""

from __future__ import annotations

from .test_sms_dialogue import app_config, clock, dakar, say  # noqa: F401

NOT_FREE = "Cette heure n'est pas libre"


def test_a_day_too_far_says_until_when_and_offers_days(dakar, app):  # noqa: F811
    (reply,) = say(app, "RDV CNI 25/12 9h")
    assert reply.startswith("Trop loin : RDV possible jusqu'au 07/12."), reply
    assert "numéro du jour" in reply
    assert "1 lun 23/11" in reply
    assert NOT_FREE not in reply


def test_a_closed_day_says_closed(dakar, app):  # noqa: F811
    (reply,) = say(app, "RDV CNI 28/11 9h")  # a Saturday
    assert reply.startswith("Le bureau est fermé le 28/11."), reply
    assert "numéro du jour" in reply


def test_a_past_day_says_past(dakar, app):  # noqa: F811
    (reply,) = say(app, "RDV CNI 20/11")
    assert reply.startswith("Le 20/11 est passé."), reply
    assert "numéro du jour" in reply


def test_a_time_outside_the_hours_says_so(dakar, app):  # noqa: F811
    (reply,) = say(app, "RDV CNI 24/11 20h")
    assert reply.startswith("Pas de RDV à 20h00 ce jour-là."), reply
    assert "1 8h00" in reply


def test_a_full_day_says_full(dakar, app):  # noqa: F811
    from queue_app.extensions import db
    from queue_app.models import Service

    with app.app_context():
        service = db.session.query(Service).filter_by(code="CNI").one()
        service.slot_minutes = 240  # two slots a day: 8h-12h and... none in the afternoon
        db.session.commit()
    say(app, "RDV CNI 24/11 8h", phone="+221770000011")
    (reply,) = say(app, "RDV CNI 24/11", phone="+221770000012")
    assert reply.startswith("Le 24/11 est complet."), reply


def test_wolof_keywords_get_wolof_replies_for_the_whole_conversation(dakar, app):  # noqa: F811
    from sqlalchemy import select

    from queue_app.extensions import db
    from queue_app.models import Appointment

    (services,) = say(app, "Ndaje")
    assert services.startswith("Tontul ak nimero service bi:"), services
    (days,) = say(app, "2")
    assert "Tontul ak nimero bes bi:" in days
    assert "2 tal 24/11" in days  # Talaata
    (times,) = say(app, "2")
    assert times.startswith("tal 24/11. Tontul ak nimero waxtu wi:")
    (confirmation,) = say(app, "1")
    assert confirmation.startswith("Sa RDV ")
    assert "NEENAL" in confirmation
    with app.app_context():
        assert db.session.scalar(select(Appointment.language)) == "wo"
    # Help in Wolof; a French keyword brings French back.
    (help_wo,) = say(app, "NDIMBAL")
    assert help_wo.startswith("Ngir RDV bindal RDV")
    (help_fr,) = say(app, "AIDE")
    assert help_fr.startswith("Pour prendre RDV")
