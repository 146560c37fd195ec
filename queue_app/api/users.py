"""Users: admins create anyone; managers create agents and managers of their sites."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select

from ..extensions import db
from ..models import Role, Site, User
from ..queue import errors
from ..queue.accounts import create_user, end_all_sessions, set_password
from ..queue.sites import get_site
from ..security.permissions import can_manage_site, require_user, visible_sites_filter
from . import ApiBlueprint, principal
from .schemas import UserCreateSchema, UserPatchSchema, UserSchema
from .serialize import user_json

blp = ApiBlueprint("api_users", __name__, description="Admins, managers and agents")


def _sites_for(actor: User, slugs: list[str]) -> list[Site]:
    sites = [get_site(db.session, slug) for slug in dict.fromkeys(slugs)]
    for site in sites:
        if not can_manage_site(actor, site):
            raise errors.Forbidden(site=site.slug)
    return sites


def _check_role(actor: User, role: Role) -> None:
    if actor.role != Role.ADMIN and role == Role.ADMIN:
        raise errors.Forbidden(reason="only an admin creates admins")


def _check_manageable(actor: User, user: User) -> None:
    """A manager may change only users who work at sites they all manage."""
    if actor.role == Role.ADMIN:
        return
    if user.role == Role.ADMIN or not all(can_manage_site(actor, site) for site in user.sites):
        raise errors.Forbidden(reason="this user also works at sites you do not manage")


def _visible_user(actor: User, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise errors.NotFound(user=user_id)
    if actor.role == Role.ADMIN:
        return user
    allowed = set(visible_sites_filter(actor) or [])
    if user.role == Role.ADMIN or not {s.id for s in user.sites} & allowed:
        raise errors.NotFound(user=user_id)
    return user


@blp.route("/users")
class UsersView(MethodView):
    @blp.response(200, UserSchema(many=True))
    def get(self) -> list[dict]:
        """List users (a manager sees the users of their sites)."""
        actor = require_user(principal(), Role.ADMIN, Role.MANAGER)
        users = db.session.scalars(select(User).order_by(User.email)).all()
        if actor.role != Role.ADMIN:
            allowed = set(visible_sites_filter(actor) or [])
            users = [u for u in users if u.role != Role.ADMIN and {s.id for s in u.sites} & allowed]
        return [user_json(u) for u in users]

    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(404, description="A site in `sites` does not exist")
    @blp.alt_response(409, description="The e-mail address is taken")
    def post(self, body: dict) -> dict:
        """Create a user with a password (at least 8 characters)."""
        actor = require_user(principal(), Role.ADMIN, Role.MANAGER)
        role = Role(body["role"])
        _check_role(actor, role)
        sites = _sites_for(actor, body["sites"])
        user = create_user(
            db.session,
            body["email"],
            body["password"],
            role,
            sites=sites,
            full_name=body["full_name"],
            locale=body["locale"],
        )
        db.session.commit()
        return user_json(user)


@blp.route("/users/<int:user_id>")
class UserView(MethodView):
    @blp.response(200, UserSchema)
    def get(self, user_id: int) -> dict:
        """One user."""
        actor = require_user(principal(), Role.ADMIN, Role.MANAGER)
        return user_json(_visible_user(actor, user_id))

    @blp.arguments(UserPatchSchema)
    @blp.response(200, UserSchema)
    def patch(self, body: dict, user_id: int) -> dict:
        """Change a user's name, role, sites, language, password, or deactivate them."""
        actor = require_user(principal(), Role.ADMIN, Role.MANAGER)
        user = _visible_user(actor, user_id)
        _check_manageable(actor, user)
        if "role" in body:
            role = Role(body["role"])
            _check_role(actor, role)
            user.role = role
        if "sites" in body:
            sites = _sites_for(actor, body["sites"])
            if not sites and Role(body.get("role", user.role)) != Role.ADMIN:
                raise errors.InvalidInput(field="sites", reason="staff belong to a site")
            user.sites = sites
        if "full_name" in body:
            user.full_name = body["full_name"].strip()
        if "locale" in body:
            user.locale = body["locale"]
        ended = False
        if "password" in body:
            set_password(user, body["password"])
            ended = True
        if "is_active" in body:
            ended = ended or (user.is_active and not body["is_active"])
            user.is_active = bool(body["is_active"])
        if ended:
            # Signed out everywhere: web sessions, API tokens, open connections.
            end_all_sessions(db.session, user)
        db.session.commit()
        return user_json(user)
