"""Every text we send fits ONE SMS segment, in every language, with long real-world values."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from queue_app.sms import dialogue, texts

LONG_SITE = "Espace Sénégal Services — Guédiawaye, Département de Pikine (Dakar)"
LONG_SERVICES = [
    "Légalisation et certification conforme de documents administratifs",
    "Carte nationale d'identité biométrique CEDEAO",
    "Extrait d'acte de naissance, de mariage ou de décès",
    "Permis de construire et certificat d'urbanisme",
    "Casier judiciaire (bulletin n°3)",
    "Certificat de résidence",
    "Nationalité sénégalaise",
    "Déclaration fiscale des entreprises",
]
VALUES = {
    "ref": "K7P4XM",
    "service": LONG_SERVICES[0],
    "site": LONG_SITE,
    "day": "31/12",
    "time": "16h45",
    "label": "D-1024",
    "ahead": 3,
}
LANGUAGES = ["fr", "en", "wo"]


def test_segment_lengths_are_counted_like_a_phone_does():
    assert texts.segment_length("é" * 160) == (160, 160)  # é is GSM-7
    assert texts.segment_length("ê") == (1, 70)  # ê forces UCS-2
    assert texts.segment_length("[x]") == (5, 160)  # brackets take two septets
    assert texts.segment_length("’") == (1, 70)
    assert texts.fits_one_segment("a" * 160)
    assert not texts.fits_one_segment("a" * 161)
    assert not texts.fits_one_segment("ç" * 71)
    assert texts.to_gsm("Tête-à-tête « ça » — œuvre’s") == 'Tete-à-tete " ca " - oeuvre\'s'


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(texts.TEMPLATES))
def test_every_notice_fits_one_segment(app, kind, language):
    with app.app_context():
        text = texts.message(kind, language, **VALUES)
    used, allowed = texts.segment_length(text)
    assert used <= allowed, (kind, language, text)
    if kind not in ("turn_near",):
        assert "K7P4XM" in text  # the reference is never cut
    assert "16h45" in text or "D-1024" in text or kind in ("cancelled", "office_closed")


@pytest.mark.parametrize("language", LANGUAGES)
def test_dialogue_texts_fit_one_segment(app, language):
    """The help, the menus with many long names, and every fixed reply."""
    with app.app_context(), force_locale(language):
        candidates = [
            dialogue._help(),
            dialogue.menu(lambda: "Répondez par le numéro du service :", LONG_SERVICES),
            dialogue.menu(
                lambda: texts.shorten(LONG_SERVICES[0], 24) + ". Répondez par le numéro du jour :",
                ["lun 30/11", "mar 01/12", "mer 02/12", "jeu 03/12", "ven 04/12", "lun 07/12"],
            ),
            dialogue.menu(
                lambda: "mer 02/12. Répondez par le numéro de l'heure :",
                ["8h00", "9h00", "10h00", "11h00", "13h00", "14h00", "15h00", "16h30"],
            ),
        ]
    for text in candidates:
        used, allowed = texts.segment_length(text)
        assert used <= allowed, text
    assert "1 " in candidates[1]


def test_a_menu_keeps_every_option_number(app):
    with app.app_context():
        text = dialogue.menu(lambda: "Choisissez :", LONG_SERVICES)
    for number in range(1, 9):
        assert f"{number} " in text


def _whole_word_form(name: str, text: str) -> bool:
    """Whether ``text`` holds ``name`` in one of its whole-word forms (as sent: GSM-7 or not)."""
    return any(form in text or texts.to_gsm(form) in text for form in texts.word_forms(name))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(texts.TEMPLATES))
@pytest.mark.parametrize("service", LONG_SERVICES[:3])
def test_names_lose_whole_words_never_letters(app, kind, language, service):
    """'Carte nationale d'ident..' never: a long name drops its small words, then its last
    words, and is never marked with dots."""
    with app.app_context():
        text = texts.message(kind, language, **{**VALUES, "service": service})
    assert ".." not in text
    if kind not in ("cancelled", "office_closed"):
        assert _whole_word_form(service, text), text
        assert _whole_word_form(LONG_SITE, text) or kind in ("turn_near",), text


def test_menus_keep_whole_words(app):
    with app.app_context():
        text = dialogue.menu(lambda: "Répondez par le numéro du service :", LONG_SERVICES)
    assert ".." not in text
    items = re.split(r"\b\d \b", text.split(":", 1)[1])[1:]
    assert items
    for item, name in zip(items, LONG_SERVICES, strict=False):
        assert item.strip(" ,") in texts.word_forms(name), (item, text)


def test_a_short_sms_name_set_by_the_office_is_used(app):
    from .conftest import build_office

    office = build_office(app)
    with app.app_context():
        from queue_app.extensions import db
        from queue_app.models import Service

        service = db.session.get(Service, office.services["CNI"].id)
        service.sms_name = "CNI"
        assert texts.service_name(service, "fr") == "CNI"
        assert texts.service_name(service, "en") == "National identity card"


def _sms_msgids() -> set[str]:
    """Every text the SMS code can send, as written in the code (msgids)."""
    from pathlib import Path

    from babel.messages.extract import extract_from_file

    package = Path(texts.__file__).parent.parent
    files = [*sorted((package / "sms").glob("*.py")), package / "infra" / "position_text.py"]
    return {
        message
        for path in files
        for _line, message, _comments, _context in extract_from_file("python", str(path))
        if isinstance(message, str)
    }


def test_every_sms_text_has_its_wolof_translation():
    """The Wolof catalogue an office can correct holds every SMS text (none falls back
    to English), each a complete translation with the same placeholders."""
    import re as regex
    from pathlib import Path

    from babel.messages.pofile import read_po

    path = Path(texts.__file__).parent.parent / "translations/wo/LC_MESSAGES/messages.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    for msgid in sorted(_sms_msgids()):
        entry = catalogue.get(msgid)
        assert entry is not None, f"no Wolof text for {msgid!r}"
        assert entry.string, f"no Wolof text for {msgid!r}"
        placeholders = sorted(regex.findall(r"%\(\w+\)s", msgid))
        assert sorted(regex.findall(r"%\(\w+\)s", entry.string)) == placeholders, msgid
        assert texts.is_gsm(entry.string.replace("%", "")), entry.string


def test_wolof_texts_are_in_wolof(app):
    with app.app_context(), force_locale("wo"):
        assert dialogue._help().startswith("Ngir RDV bindal RDV")
        confirmation = texts.message("confirmation", "wo", **VALUES)
    assert confirmation.startswith("Sa RDV K7P4XM am na")
