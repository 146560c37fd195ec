"""Generate the display's built-in voice clips offline (espeak-ng, then sox).

    python display/build_voice.py --out display/static/voice fr [en ...]

Writes <out>/<language>/<key>.ogg for every key of a complete set (see
queue_app/screens/clips.py) and a manifest.json listing them. The display joins
them ("ticket" + letters + number + "guichet" + number) when the browser has
no voice for the site's language. `make voice` runs this; the wheel ships the
result. Needs the Debian packages espeak-ng and sox (with libsox-fmt-base).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# What each key says, per language.
WORDS = {
    "fr": {"ticket": "ticket", "counter": "guichet", "hundred": "cent", "voice": "fr"},
    "en": {"ticket": "ticket", "counter": "counter", "hundred": "hundred", "voice": "en"},
}


def phrases(language: str) -> dict[str, str]:
    """Key → text to speak, for a complete set."""
    words = WORDS[language]
    texts = {"ticket": words["ticket"], "counter": words["counter"]}
    for code in range(ord("a"), ord("z") + 1):
        # A lone capital is read as the letter's name ("bé", "dé"...).
        texts[f"letter-{chr(code)}"] = chr(code).upper()
    for number in range(100):
        texts[f"number-{number}"] = str(number)
    for hundreds in range(1, 10):
        if language == "fr":
            texts[f"hundred-{hundreds}"] = "cent" if hundreds == 1 else f"{hundreds} cent"
        else:
            texts[f"hundred-{hundreds}"] = f"{hundreds} {words['hundred']}"
    return texts


def speak(text: str, voice: str, wav: Path) -> None:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "140", "-p", "45", "-a", "170", "-w", str(wav), text],
        check=True,
        capture_output=True,
    )


def encode(wav: Path, ogg: Path) -> None:
    # Mono 22 kHz Vorbis; silence trimmed at both ends so joined clips flow.
    subprocess.run(
        ["sox", str(wav), "-r", "22050", "-c", "1", "-C", "2", str(ogg)]
        + ["silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse"]
        + ["norm", "-2", "pad", "0", "0.06"],
        check=True,
        capture_output=True,
    )


def build(language: str, out: Path) -> int:
    if language not in WORDS:
        raise SystemExit(f"no phrases for language {language!r} (known: {', '.join(WORDS)})")
    target = out / language
    staging = Path(tempfile.mkdtemp(prefix=f"voice-{language}-"))
    try:
        texts = phrases(language)
        for key, text in texts.items():
            wav = staging / f"{key}.wav"
            speak(text, WORDS[language]["voice"], wav)
            encode(wav, staging / f"{key}.ogg")
            wav.unlink()
        manifest = {"language": language, "format": "audio/ogg", "keys": sorted(texts)}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("languages", nargs="+")
    args = parser.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: `make voice-tools` installs it")
    for language in args.languages:
        count = build(language, args.out)
        print(f"voice clips: {count} for {language!r} in {args.out / language}", file=sys.stderr)


if __name__ == "__main__":
    main()
