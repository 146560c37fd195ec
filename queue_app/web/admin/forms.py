"""The admin pages' forms (Flask-WTF: CSRF-protected), built per site where fields depend on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    Form,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ...display.icons import available_icons
from ...models import WEEKDAYS, ComplaintKind, DeviceKind, PriorityRule, Role, Site

# Languages an office may speak (announcements, printed tickets, kiosk); the
# pages themselves are in the LANGUAGES setting.
SITE_LANGUAGES = [
    ("fr", "Français"),
    ("en", "English"),
    ("wo", "Wolof"),
    ("ff", "Pulaar"),
    ("bm", "Bambara"),
    ("ar", "العربية"),
]
TIMEZONES = [
    "Africa/Dakar",
    "Africa/Abidjan",
    "Africa/Bamako",
    "Africa/Ouagadougou",
    "Africa/Conakry",
    "Africa/Lome",
    "Africa/Accra",
    "Africa/Porto-Novo",
    "Africa/Niamey",
    "Africa/Lagos",
    "Africa/Douala",
    "Africa/Nouakchott",
    "Africa/Casablanca",
    "Europe/Paris",
    "UTC",
]
WEEKDAY_LABELS = {
    "monday": _l("Monday"),
    "tuesday": _l("Tuesday"),
    "wednesday": _l("Wednesday"),
    "thursday": _l("Thursday"),
    "friday": _l("Friday"),
    "saturday": _l("Saturday"),
    "sunday": _l("Sunday"),
}
INTERVALS_PER_DAY = 3
ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.MANAGER: _l("Manager"),
    Role.AGENT: _l("Agent"),
}
DEVICE_LABELS = {
    DeviceKind.KIOSK: _l("Kiosk"),
    DeviceKind.DISPLAY: _l("Waiting-room display"),
    DeviceKind.TABLET: _l("Satisfaction tablet"),
    DeviceKind.PRINTER: _l("Print agent"),
}
PRIORITY_RULE_LABELS = {
    PriorityRule.FIRST: _l("Priority tickets (elderly, disabled, pregnant) are called first"),
    PriorityRule.NONE: _l("No priority tickets: everyone in order of arrival"),
}


class PlainText:
    """Text people typed: no control characters (they break displays, printers, databases)."""

    def __init__(self, *, multiline: bool = False) -> None:
        self.allowed = "\n\r\t" if multiline else ""

    def __call__(self, form: Any, field: Any) -> None:
        for char in field.data or "":
            code = ord(char)
            if (code < 32 or 127 <= code < 160) and char not in self.allowed:
                raise ValidationError(_l("Control characters are not allowed."))
            if 0xD800 <= code <= 0xDFFF:
                raise ValidationError(_l("Not valid Unicode text."))


def options(pairs: Any) -> list[SelectChoice]:
    """Choices of a select, radio or checkbox list from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SiteCreateForm(FlaskForm):
    slug = StringField(
        _l("Short name in addresses"),
        validators=[DataRequired(), Length(max=64)],
        description=_l("Lowercase letters, digits and dashes: thies, dakar-plateau."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    timezone = SelectField(_l("Time zone"), choices=options((z, z) for z in TIMEZONES))
    default_language = SelectField(_l("Main language"), choices=options(SITE_LANGUAGES))
    languages = MultiCheckboxField(_l("Other languages"), choices=options(SITE_LANGUAGES))


class SiteForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    timezone = SelectField(_l("Time zone"), choices=options((z, z) for z in TIMEZONES))
    default_language = SelectField(_l("Main language"), choices=options(SITE_LANGUAGES))
    languages = MultiCheckboxField(_l("Other languages"), choices=options(SITE_LANGUAGES))
    sms_keyword = StringField(
        _l("Office keyword in SMS"),
        validators=[Optional(), Length(max=20)],
        description=_l(
            "When several offices share one SMS number, citizens name this office with it: "
            "RDV THIES CNI. Empty: taken from the short name in addresses."
        ),
    )
    alert_phone = StringField(
        _l("Phone for alerts"),
        validators=[Optional(), Length(max=30)],
        description=_l(
            "Told by SMS when a device stops answering, a printer runs out of paper or a "
            "wait passes its target. Empty: no SMS."
        ),
    )


class DisplayMessageForm(FlaskForm):
    """The line shown under the calls on every waiting-room display of the office."""

    message = StringField(
        _l("Message on the waiting-room displays"),
        validators=[Optional(), Length(max=280), PlainText()],
        description=_l(
            "One line under the calls, shown at once on every display of the office: "
            "a closed service, the afternoon hours. 280 characters at most."
        ),
    )


HOURS_MODES = {
    "always": _l("Open at any time: no opening hours"),
    "weekly": _l("Open on these weekly hours"),
    "closed": _l("Closed every day until further notice"),
}


def hours_form_class() -> type[FlaskForm]:
    """Opening hours: always open, up to three intervals per weekday (site-local), or closed."""
    fields: dict[str, Any] = {
        "mode": RadioField(
            _l("The office"),
            choices=options(HOURS_MODES.items()),
            default="weekly",
        )
    }
    for day in WEEKDAYS:
        for index in range(INTERVALS_PER_DAY):
            fields[f"{day}_{index}_start"] = TimeField(validators=[Optional()])
            fields[f"{day}_{index}_end"] = TimeField(validators=[Optional()])
    return type("HoursForm", (FlaskForm,), fields)


class ClosureForm(FlaskForm):
    day = DateField(_l("Closed on"), validators=[InputRequired()])


class RemoveForm(FlaskForm):
    """A button that only needs its CSRF token."""


class CommitmentRow(Form):
    kind = SelectField(
        _l("Commitment"),
        choices=options(
            [
                ("", "—"),
                ("wait", _l("Waiting time")),
                ("satisfaction", _l("Satisfaction")),
                ("complaint_answer", _l("Answer to complaints")),
            ]
        ),
        validators=[Optional()],
    )
    target_pct = IntegerField(_l("Share (%)"), validators=[Optional(), NumberRange(1, 100)])
    threshold = IntegerField(_l("Limit"), validators=[Optional(), NumberRange(1, 480)])
    service = SelectField(_l("Service"), choices=[], validators=[Optional()])


COMMITMENT_ROWS = 6


def commitments_form_class() -> type[FlaskForm]:
    fields = {f"row_{i}": _FormField(CommitmentRow) for i in range(COMMITMENT_ROWS)}
    return type("CommitmentsForm", (FlaskForm,), fields)


def _FormField(form_class: type[Form]) -> Any:  # noqa: N802
    from wtforms import FormField

    return FormField(form_class)


# Service fields, grouped as the page shows them. A form field named like a key
# of queue.sites.update_service's or queue.booking.update_booking_settings's
# changes is passed to them as is; the pictogram is chosen apart (with images).
SERVICE_FIELDSETS: list[tuple[Any, list[str]]] = [
    (
        _l("Queue"),
        ["prefix", "target_wait_minutes", "avg_service_minutes", "position", "is_active"],
    ),
    (_l("Priority"), ["priority_rule"]),
    (
        _l("Appointments"),
        ["booking_enabled", "slot_minutes", "slot_capacity", "booking_days_ahead", "sms_name"],
    ),
]
ICON_LABELS = {
    "briefcase": _l("Briefcase"),
    "calendar": _l("Calendar"),
    "car": _l("Car"),
    "certificate": _l("Certificate"),
    "disabled": _l("Wheelchair"),
    "document": _l("Document"),
    "elderly": _l("Elderly person"),
    "family": _l("Family"),
    "health": _l("Health"),
    "house": _l("House"),
    "id-card": _l("Identity card"),
    "info": _l("Information"),
    "land": _l("Land"),
    "money": _l("Money"),
    "passport": _l("Passport"),
    "person": _l("Person"),
    "pregnant": _l("Pregnant woman"),
    "stamp": _l("Stamp"),
}


def service_form_class(site: Site, *, creating: bool) -> type[FlaskForm]:
    """The service form of a site: a name per language of the site."""
    fields: dict[str, Any] = {
        "prefix": StringField(
            _l("Ticket letter"),
            validators=[DataRequired(), Length(min=1, max=3)],
            description=_l("Printed before the number: B-007."),
        ),
        "target_wait_minutes": IntegerField(
            _l("Target waiting time (minutes)"),
            validators=[InputRequired(), NumberRange(1, 1440)],
            description=_l("The dashboard counts the citizens called within it."),
        ),
        "avg_service_minutes": DecimalField(
            _l("Usual time at the counter (minutes)"),
            places=1,
            validators=[InputRequired(), NumberRange(0.25, 240)],
            description=_l(
                "A first guess for waiting estimates; then learned from the day's work."
            ),
        ),
        "position": IntegerField(
            _l("Order on the kiosk"), validators=[InputRequired(), NumberRange(0, 10_000)]
        ),
        "is_active": BooleanField(_l("Available (tickets can be taken)")),
        "sms_name": StringField(
            _l("Short name in SMS"),
            validators=[Optional(), Length(max=30)],
            description=_l(
                "An SMS holds 160 letters: a short name keeps the whole message. "
                "Empty: the name, shortened by whole words when needed."
            ),
        ),
        "priority_rule": RadioField(
            _l("Priority rule"),
            choices=options((rule.value, label) for rule, label in PRIORITY_RULE_LABELS.items()),
            default=PriorityRule.FIRST.value,
        ),
        "booking_enabled": BooleanField(
            _l("Citizens may book an appointment (web page and SMS)"),
            description=_l(
                "Slots are cut from the office's opening hours, minus its closure days "
                "(from the usual office hours when it has none)."
            ),
        ),
        "slot_minutes": IntegerField(
            _l("Length of a slot (minutes)"),
            default=15,
            validators=[Optional(), NumberRange(5, 480)],
        ),
        "slot_capacity": IntegerField(
            _l("Citizens per slot"),
            default=1,
            validators=[Optional(), NumberRange(1, 100)],
            description=_l("How many citizens the counters of this service receive in a slot."),
        ),
        "booking_days_ahead": IntegerField(
            _l("Bookable up to (days ahead)"),
            default=14,
            validators=[Optional(), NumberRange(1, 365)],
        ),
        "icon": RadioField(
            _l("Pictogram on the kiosk"),
            choices=options(
                [("", _l("Default"))]
                + [(name, ICON_LABELS.get(name, name)) for name in available_icons()]
            ),
            default="",
            validators=[Optional()],
        ),
    }
    if creating:
        fields["code"] = StringField(
            _l("Code"),
            validators=[DataRequired(), Length(max=32)],
            description=_l("Used by the API and the SMS: CNI, CASIER."),
        )
    for code in site.languages:
        label = dict(SITE_LANGUAGES).get(code, code)
        fields[f"name_{code}"] = StringField(
            _l("Name (%(language)s)", language=label),
            validators=[Length(max=200)] + ([DataRequired()] if code == site.languages[0] else []),
        )
    return type("ServiceForm", (FlaskForm,), fields)


def counter_form_class(site: Site) -> type[FlaskForm]:
    """A counter's name, and for each service of the site: served here, with what weight."""
    fields: dict[str, Any] = {
        "name": StringField(_l("Name"), validators=[DataRequired(), Length(max=64)]),
    }
    for service in site.services:
        fields[f"serves_{service.id}"] = BooleanField(service.name)
        fields[f"weight_{service.id}"] = IntegerField(
            _l("Weight"), default=1, validators=[Optional(), NumberRange(1, 100)]
        )
    return type("CounterForm", (FlaskForm,), fields)


PAPER_WIDTHS = [("80", _l("80 mm")), ("58", _l("58 mm"))]
CODEPAGES = [
    ("cp1252", _l("WPC1252 (Western European, most printers)")),
    ("cp858", _l("CP858 (Western European with €)")),
    ("cp850", _l("CP850 (Western European, older printers)")),
    ("cp437", _l("CP437 (United States)")),
]
QR_MODES = [
    ("native", _l("Drawn by the printer")),
    ("image", _l("Printed as an image (printers without QR codes)")),
    ("none", _l("No QR code")),
]


def device_form_class(
    site: Site,
    *,
    creating: bool,
    kind: DeviceKind | None = None,
    agents: Sequence[tuple[str, str]] = (),
) -> type:
    """A device's form: its name; a kiosk's printer; the services a display shows.

    On creation every kind's fields are there (the page shows those of the chosen
    kind); on a device's own page only those of its kind.
    """
    fields: dict[str, Any] = {
        "name": StringField(_l("Name"), validators=[DataRequired(), Length(max=100), PlainText()])
    }
    if creating:
        fields["kind"] = SelectField(
            _l("Kind"),
            choices=options((k.value, label) for k, label in DEVICE_LABELS.items()),
        )
        fields["counter"] = SelectField(
            _l("Counter (for a tablet or the screen above a counter)"),
            choices=options([("", "—")] + [(str(c.id), c.name) for c in site.counters]),
            validators=[Optional()],
            description=_l(
                "A tablet asks for ratings after service at this counter; a display "
                "may be the small screen above it."
            ),
        )
    if creating or kind == DeviceKind.KIOSK:
        fields["printer"] = StringField(
            _l("Ticket printer"),
            validators=[Optional(), Length(max=255), PlainText()],
            description=_l(
                "Its address: tcp://192.168.1.50:9100 (network), usb://04b8:0202 "
                "(vendor:product from lsusb), serial:///dev/ttyUSB0, file:///dev/usb/lp0. "
                "Empty: the kiosk prints no ticket."
            ),
        )
    if kind == DeviceKind.KIOSK:
        fields["print_agent"] = SelectField(
            _l("Who prints"),
            choices=options([("", _l("This server (a printer it reaches)")), *agents]),
            validators=[Optional()],
            description=_l(
                "A printer plugged into the kiosk's own computer is driven by a print agent "
                "running there."
            ),
        )
        fields["paper_width_mm"] = SelectField(_l("Paper width"), choices=options(PAPER_WIDTHS))
        fields["codepage"] = SelectField(
            _l("Code page (accents)"),
            choices=options(CODEPAGES),
            description=_l("WPC1252 prints é, è, à right on Epson printers and their clones."),
        )
        fields["qr"] = SelectField(_l("QR code to follow the queue"), choices=options(QR_MODES))
        fields["footer"] = TextAreaField(
            _l("Footer of the ticket"),
            validators=[Optional(), Length(max=500), PlainText(multiline=True)],
            description=_l("One line each: opening hours, a phone number. Empty: the default."),
        )
    if creating or kind == DeviceKind.DISPLAY:
        fields["services"] = MultiCheckboxField(
            _l("Services shown"),
            choices=options((s.code, s.name) for s in site.services),
            validators=[Optional()],
            description=_l(
                "For a display in a second waiting room: tick its services. None ticked: "
                "every service of the office."
            ),
        )
    return type("DeviceForm", (FlaskForm,), fields)


GATEWAY_LABELS = {
    "console": _l("Console (development: messages written to a file, not sent)"),
    "twilio": _l("Twilio (SMS and WhatsApp)"),
    "android": _l("SMS Gateway for Android (a phone with a local SIM)"),
    "orange": _l("Orange SMS API"),
}
GATEWAY_FIELD_LABELS = {
    "twilio": {
        "sender": _l("Sending number"),
        "whatsapp_sender": _l("WhatsApp number"),
        "whatsapp_content_sid": _l("WhatsApp reminder template (Content SID)"),
        "account_sid": _l("Account SID"),
        "api_url": _l("API address"),
        "auth_token": _l("Auth token"),
    },
    "android": {
        "base_url": _l("Address of the phone's gateway"),
        "login": _l("Login"),
        "password": _l("Password"),
        "signing_key": _l("Signing key of its webhooks"),
    },
    "orange": {
        "base_url": _l("API address"),
        "client_id": _l("Client ID"),
        "sender": _l("Sending number"),
        "sender_name": _l("Sender name"),
        "client_secret": _l("Client secret"),
        "webhook_secret": _l("Secret of the inbound address"),
    },
}


def gateway_field(gateway: str, key: str, *, secret: bool = False) -> str:
    return f"{gateway}__{'secret__' if secret else ''}{key}"


def sms_gateway_form_class(default_name: str, secrets_set: Sequence[str] = ()) -> type:
    """A site's SMS gateway: the installation's default, or its own with options and secrets.

    Secret fields are never filled in: left empty, the stored secret is kept.
    """
    from ...sms.registry import GATEWAYS, OPTIONS, SECRETS

    fields: dict[str, Any] = {
        "gateway": SelectField(
            _l("Gateway"),
            choices=options(
                [("", _l("The installation's default (%(name)s)", name=default_name))]
                + [(name, GATEWAY_LABELS.get(name, name)) for name in GATEWAYS]
            ),
            validators=[Optional()],
        )
    }
    for name in GATEWAYS:
        labels = GATEWAY_FIELD_LABELS.get(name, {})
        for key in OPTIONS[name]:
            fields[gateway_field(name, key)] = StringField(
                labels.get(key, key), validators=[Optional(), Length(max=500), PlainText()]
            )
        for key in SECRETS[name]:
            fields[gateway_field(name, key, secret=True)] = PasswordField(
                labels.get(key, key),
                validators=[Optional(), Length(max=500), PlainText()],
                description=_l("Set: leave empty to keep it.") if key in secrets_set else "",
            )
    return type("SmsGatewayForm", (FlaskForm,), fields)


def user_form_class(*, creating: bool, admin: bool, sites: list[Site]) -> type[FlaskForm]:
    roles = [Role.MANAGER, Role.AGENT] if not admin else [Role.ADMIN, Role.MANAGER, Role.AGENT]
    fields: dict[str, Any] = {
        "full_name": StringField(_l("Full name"), validators=[Length(max=200)]),
        "role": SelectField(
            _l("Role"), choices=options((role.value, ROLE_LABELS[role]) for role in roles)
        ),
        "sites": MultiCheckboxField(
            _l("Offices"), choices=options((site.slug, site.name) for site in sites)
        ),
        "locale": SelectField(
            _l("Language of the pages"),
            choices=options([("", _l("Office's language")), ("fr", "Français"), ("en", "English")]),
        ),
        "is_active": BooleanField(_l("Active (may sign in)"), default=True),
    }
    if creating:
        fields["email"] = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
        fields["password"] = PasswordField(
            _l("Password"),
            validators=[DataRequired(), Length(min=8, max=1024)],
            description=_l("At least 8 characters. Give it to the person, who may change it."),
        )
    else:
        fields["password"] = PasswordField(
            _l("New password"),
            validators=[Optional(), Length(min=8, max=1024)],
            description=_l("Leave empty to keep the current one."),
        )
    return type("UserForm", (FlaskForm,), fields)


class AssignForm(FlaskForm):
    user = SelectField(_l("Assigned to"), choices=[])


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l("Answer"), validators=[DataRequired(), Length(max=4000)])
    send_sms = BooleanField(_l("Send the answer by SMS"))


class ComplaintPublicForm(FlaskForm):
    kind = RadioField(
        _l("Your message is"),
        choices=options(
            [
                (ComplaintKind.COMPLAINT.value, _l("A complaint")),
                (ComplaintKind.SUGGESTION.value, _l("A suggestion")),
            ]
        ),
        default=ComplaintKind.COMPLAINT.value,
    )
    service = SelectField(_l("About the service"), choices=[], validators=[Optional()])
    text = TextAreaField(
        _l("Your message"),
        validators=[DataRequired(), Length(min=10, max=4000)],
        description=_l("What happened, when, at which counter. At least 10 characters."),
    )
    name = StringField(_l("Your name (optional)"), validators=[Optional(), Length(max=200)])
    phone = StringField(
        _l("Your phone number (optional)"),
        validators=[Optional(), Length(max=32)],
        description=_l("To receive the answer by SMS."),
    )
