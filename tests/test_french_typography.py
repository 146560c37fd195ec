"""French as it is written: a no-break space (U+00A0 or U+202F) before « ! ? : ; » and after
«, so that a phone never starts a line with "!" or ends one with "«". Checked in the
French catalogue and in the French written directly in templates and scripts."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "queue_app" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
# A breaking space (or a line break) before the mark, or after «.
BAD = re.compile(r"[ \t\n]+[!?:;»]|«[ \t\n]")
# French words that tell French text from code (a JavaScript "a ? b : c").
FRENCH = re.compile(
    r"\b(vous|votre|le|la|les|des|est|une|pour|avec|sur|dans|pas|aucun|aucune)\b", re.I
)


def typography_faults(text: str) -> list[str]:
    return [text[max(m.start() - 20, 0) : m.end() + 10] for m in BAD.finditer(text)]


def test_the_french_catalogue_has_no_breaking_space_before_or_after_marks():
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle, locale="fr")
    faults = []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            faults += [(message.id, bad) for bad in typography_faults(string or "")]
    assert faults == []


def _text_nodes(source: str) -> list[str]:
    """The text of a template between its tags, without Jinja code, scripts or styles."""
    source = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", source)
    source = re.sub(r"(?s)\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " x ", source)
    return [text for text in re.findall(r">([^<>]+)<", source) if text.strip()]


def _string_literals(source: str) -> list[str]:
    return re.findall(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'', source)


def test_french_written_in_templates_and_scripts_keeps_its_marks_with_their_words():
    faults = []
    templates = [*ROOT.glob("queue_app/templates/**/*.html"), *ROOT.glob("display/**/*.html")]
    for path in templates:
        for text in _text_nodes(path.read_text(encoding="utf-8")):
            if FRENCH.search(text):
                faults += [(path.name, bad) for bad in typography_faults(text)]
    scripts = [*ROOT.glob("queue_app/static/**/*.js"), *ROOT.glob("display/static/**/*.js")]
    for path in scripts:
        if "vendor" in path.parts:
            continue
        for pair in _string_literals(path.read_text(encoding="utf-8")):
            literal = pair[0] or pair[1]
            if FRENCH.search(literal):
                faults += [(path.name, bad) for bad in typography_faults(literal)]
    assert faults == []


def test_the_checks_catch_a_breaking_space():
    assert typography_faults("C'est votre tour !")
    assert typography_faults("« Casier » ouvert")
    assert not typography_faults("C'est votre tour\u00a0!")
    assert not typography_faults("«\u00a0Casier\u00a0» ouvert")
    assert _text_nodes("<p>Vous êtes le prochain !</p><script>a ? b : c</script>") == [
        "Vous êtes le prochain !"
    ]
