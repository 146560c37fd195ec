"""An office's SMS gateway: the installation's default, or its own (its Android phone, its
Orange or Twilio account). Secrets are kept server-side and never shown back."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...extensions import db
from ...queue.errors import DomainError
from ...sms import registry
from . import bp, site_or_403
from .forms import GATEWAY_LABELS, gateway_field, sms_gateway_form_class
from .sites import domain_error


@bp.route("/sites/<slug>/sms", methods=["GET", "POST"])
def sms_gateway(slug: str) -> Any:
    site = site_or_403(slug)
    settings = registry.site_settings(db.session, site.id)
    public = registry.public_settings(
        registry.gateway_name(db.session, site, current_app.config), settings
    )
    default_name = str(current_app.config["SMS_GATEWAY"])
    form_class = sms_gateway_form_class(default_name, public["secrets_set"])
    data = None
    if request.method == "GET":
        data = {"gateway": settings.gateway if settings is not None else ""}
        if settings is not None:
            for key, value in (settings.options or {}).items():
                data[gateway_field(settings.gateway, key)] = value
    form = form_class(data=data)
    if form.validate_on_submit():
        name = form.gateway.data or None
        options = {}
        secrets = {}
        if name is not None:
            options = {k: form[gateway_field(name, k)].data for k in registry.OPTIONS[name]}
            # An empty secret field keeps the stored secret (None: not given).
            secrets = {
                k: form[gateway_field(name, k, secret=True)].data or None
                for k in registry.SECRETS[name]
            }
        try:
            registry.set_site_gateway(db.session, site, name, options, secrets)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            domain_error(error, form)
        else:
            flash(_("SMS gateway saved."), "info")
            return redirect(url_for("admin.sms_gateway", slug=site.slug))
    return render_template(
        "admin/sms_gateway.html",
        site=site,
        form=form,
        public=public,
        gateways=registry.GATEWAYS,
        options=registry.OPTIONS,
        secrets=registry.SECRETS,
        gateway_field=gateway_field,
        labels=GATEWAY_LABELS,
        inbound=_inbound_addresses(site),
    ), (400 if form.errors else 200)


def _inbound_addresses(site: Any) -> dict[str, str]:
    """Where each provider posts the citizens' messages (queue_app/sms/webhook.py)."""
    base = current_app.config["PUBLIC_URL"]
    return {
        "twilio": f"{base}/sms/twilio",
        "android": f"{base}/sms/android?site={site.slug}",
        "orange": f"{base}/sms/orange/<{_('secret of the inbound address')}>",
    }
