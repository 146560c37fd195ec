"""Users and roles: admins manage everyone; managers the managers and agents of their offices."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ...extensions import db
from ...models import Role, User
from ...queue.accounts import (
    can_change_user,
    check_staff_assignment,
    create_user,
    manageable_site_ids,
    update_user,
)
from ...queue.errors import DomainError
from . import actor, bp, is_admin, managed_sites
from .forms import ROLE_LABELS, user_form_class
from .sites import domain_error


def visible_users() -> list[User]:
    users = db.session.scalars(select(User).order_by(User.full_name, User.email)).all()
    allowed = manageable_site_ids(actor())
    if allowed is None:
        return list(users)
    return [u for u in users if u.role != Role.ADMIN and {s.id for s in u.sites} & allowed]


def _sites_from(slugs: list[str]) -> list[Any]:
    by_slug = {site.slug: site for site in managed_sites()}
    return [by_slug[slug] for slug in slugs if slug in by_slug]


@bp.get("/users")
def users() -> Any:
    me = actor()
    rows = [(user, can_change_user(me, user)) for user in visible_users()]
    return render_template("admin/users.html", rows=rows, role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new() -> Any:
    sites = managed_sites()
    form = user_form_class(creating=True, admin=is_admin(), sites=sites)(
        data={"role": Role.AGENT.value, "is_active": True, "sites": [s.slug for s in sites[:1]]}
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        role = Role(form.role.data)
        chosen = [] if role == Role.ADMIN else _sites_from(form.sites.data or [])
        try:
            check_staff_assignment(actor(), role, chosen)
            user = create_user(
                db.session,
                form.email.data or "",
                form.password.data or "",
                role,
                sites=chosen,
                full_name=form.full_name.data or "",
                locale=form.locale.data or None,
            )
            user.is_active = bool(form.is_active.data)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            domain_error(error, form)
        else:
            flash(_("%(email)s can now sign in.", email=user.email), "info")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None), (
        400 if form.errors else 200
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int) -> Any:
    user = db.session.get(User, user_id)
    if user is None or user not in visible_users():
        abort(404)
    if not can_change_user(actor(), user):
        abort(403)
    data = None
    if request.method == "GET":
        data = {
            "full_name": user.full_name,
            "role": user.role.value,
            "sites": [s.slug for s in user.sites],
            "locale": user.locale or "",
            "is_active": user.is_active,
        }
    form = user_form_class(creating=False, admin=is_admin(), sites=managed_sites())(data=data)
    if form.validate_on_submit():
        role = Role(form.role.data)
        try:
            update_user(
                db.session,
                user,
                actor=actor(),
                full_name=form.full_name.data or "",
                role=role,
                sites=[] if role == Role.ADMIN else _sites_from(form.sites.data or []),
                locale=form.locale.data or "",
                is_active=bool(form.is_active.data),
                password=form.password.data or None,
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            domain_error(error, form)
        else:
            flash(_("Changes saved."), "info")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user), (
        400 if form.errors else 200
    )
