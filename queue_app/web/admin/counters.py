"""Counters of an office and the services each serves, with their weights."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...extensions import db
from ...models import Counter
from ...queue.errors import DomainError
from ...queue.sites import create_counter, rename_counter, set_counter_services
from . import bp, site_or_403
from .forms import counter_form_class
from .sites import domain_error


def _links(form: Any, site: Any) -> list[tuple[Any, int]]:
    return [
        (service, int(form[f"weight_{service.id}"].data or 1))
        for service in site.services
        if form[f"serves_{service.id}"].data
    ]


def _site_counter(site: Any, counter_id: int) -> Counter:
    counter = db.session.get(Counter, counter_id)
    if counter is None or counter.site_id != site.id:
        abort(404)
    return counter


@bp.get("/sites/<slug>/counters")
def counters(slug: str) -> Any:
    site = site_or_403(slug)
    return render_template("admin/counters.html", site=site)


@bp.route("/sites/<slug>/counters/new", methods=["GET", "POST"])
def counter_new(slug: str) -> Any:
    site = site_or_403(slug)
    form = counter_form_class(site)(
        data={"name": _("Counter %(n)s", n=len(site.counters) + 1)}
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        links = _links(form, site)
        if not links:
            flash(_("Tick at least one service served at this counter."), "error")
        else:
            try:
                counter = create_counter(db.session, site, form.name.data or "", links)
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                domain_error(error, form)
            else:
                flash(_("%(name)s created.", name=counter.name), "info")
                return redirect(url_for("admin.counters", slug=site.slug))
    return render_template("admin/counter_form.html", site=site, form=form, counter=None), (
        400 if form.errors else 200
    )


@bp.route("/sites/<slug>/counters/<int:counter_id>", methods=["GET", "POST"])
def counter_edit(slug: str, counter_id: int) -> Any:
    site = site_or_403(slug)
    counter = _site_counter(site, counter_id)
    data: dict[str, object] | None = None
    if request.method == "GET":
        weights = {link.service_id: link.weight for link in counter.service_links}
        data = {"name": counter.name}
        for service in site.services:
            data[f"serves_{service.id}"] = service.id in weights
            data[f"weight_{service.id}"] = weights.get(service.id, 1)
    form = counter_form_class(site)(data=data)
    if form.validate_on_submit():
        links = _links(form, site)
        if not links:
            flash(_("Tick at least one service served at this counter."), "error")
        else:
            try:
                rename_counter(db.session, counter, form.name.data or "")
                set_counter_services(db.session, counter, links)
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                domain_error(error, form)
            else:
                flash(_("Changes saved."), "info")
                return redirect(url_for("admin.counters", slug=site.slug))
    return render_template("admin/counter_form.html", site=site, form=form, counter=counter), (
        400 if form.errors else 200
    )
