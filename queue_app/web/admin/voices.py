"""An office's own recordings for the spoken calls (admins upload and remove; managers see).

The display plays them, joined, where the browser has no voice for the office's
language (Wolof has none): chime + "ticket" + letter + number + "guichet" + number.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response
from wtforms import SelectField

from ...extensions import csrf, db
from ...queue.errors import DomainError
from ...screens import clip_manifest, delete_clip, put_clip
from ...screens.builtin import builtin_voices
from ...screens.clips import CLIP_KEYS
from . import actor, bp, is_admin, require_admin, site_or_403
from .forms import SITE_LANGUAGES, RemoveForm, options

# A multipart body carries the recording and a few short fields.
FORM_OVERHEAD = 16 * 1024


class VoiceClipForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[])
    key = SelectField(_l("What it says"), choices=[])
    recording = FileField(_l("Recording (OGG, MP3, WAV or WebM)"), validators=[FileRequired()])


def _max_bytes() -> int:
    return int(current_app.config["VOICE_CLIP_MAX_BYTES"])


def _key_label(key: str, counters: dict[str, str]) -> str:
    if key == "chime":
        return str(_("Chime"))
    if key == "ticket":
        return str(_('The word "ticket"'))
    if key == "counter":
        return str(_('The word "counter"'))
    kind, _sep, value = key.partition("-")
    if kind == "letter":
        return str(_("Letter %(letter)s", letter=value.upper()))
    if kind == "number":
        return str(_("Number %(number)s", number=value))
    if kind == "hundred":
        return str(_("Hundreds: %(number)s", number=int(value) * 100))
    return str(_("Name of %(counter)s", counter=counters.get(key, key)))


def _form(site: Any) -> VoiceClipForm:
    form = VoiceClipForm()
    names = dict(SITE_LANGUAGES)
    form.language.choices = options((code, names.get(code, code)) for code in site.languages)
    counters = {f"counter-{c.id}": c.name for c in site.counters}
    keys = [*CLIP_KEYS, *counters]
    form.key.choices = options((key, _key_label(key, counters)) for key in keys)
    return form


@bp.route("/sites/<slug>/voices", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, once the larger body limit is set
def voices(slug: str) -> Any:
    site = site_or_403(slug)
    if request.method == "POST":
        require_admin()
        # A recording is larger than the forms' MAX_CONTENT_LENGTH.
        request.max_content_length = _max_bytes() + FORM_OVERHEAD
        if (request.content_length or 0) > request.max_content_length:
            abort(413)  # before the body is read
    form = _form(site)
    valid = form.is_submitted() and form.validate()
    if form.csrf_token.errors:
        flash(_("The page had expired: nothing was done. Try again."), "error")
        return redirect(url_for("admin.voices", slug=site.slug))
    if valid:
        upload = form.recording.data
        try:
            data = upload.read(_max_bytes() + 1)
        finally:
            upload.close()
        try:
            put_clip(
                db.session,
                site,
                form.language.data,
                form.key.data,
                data,
                max_bytes=_max_bytes(),
                user=actor(),
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            form.recording.errors = [*form.recording.errors, _voice_error(error)]
        else:
            flash(_("Recording saved: the displays use it from their next call."), "info")
            return redirect(url_for("admin.voices", slug=site.slug))
    counters = {f"counter-{c.id}": c.name for c in site.counters}
    clips = [
        {**clip, "label": _key_label(clip["key"], counters)}
        for clip in clip_manifest(db.session, site)
    ]
    return render_template(
        "admin/voices.html",
        site=site,
        form=form,
        clips=clips,
        remove_form=RemoveForm(),
        may_upload=is_admin(),
        builtin=builtin_voices(),
        max_kib=_max_bytes() // 1024,
    ), (400 if form.errors else 200)


def _voice_error(error: DomainError) -> str:
    if "max_bytes" in error.details:
        return _("The recording is too large (at most %(kib)s KiB).", kib=_max_bytes() // 1024)
    if error.details.get("expected") or error.details.get("reason"):
        return _("This file is not an OGG, MP3, WAV or WebM recording.")
    return str(error.message)


@bp.post("/sites/<slug>/voices/<language>/<key>/remove")
def voice_remove(slug: str, language: str, key: str) -> Response:
    site = site_or_403(slug)
    require_admin()
    if RemoveForm().validate_on_submit():
        delete_clip(db.session, site, language[:8], key[:32])
        db.session.commit()
        flash(_("Recording removed."), "info")
    return redirect(url_for("admin.voices", slug=site.slug))
