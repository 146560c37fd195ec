"""Every text we send fits ONE SMS segment, in every language, with long real-world values."""

from __future__ import annotations

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
LANGUAGES = ["fr", "en"]


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
