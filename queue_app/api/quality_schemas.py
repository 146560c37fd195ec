"""Request and response schemas of the quality endpoints (api/quality.py)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..models import CommitmentKind, ComplaintKind, ComplaintStatus
from ..quality.commitments import LIMITS as COMMITMENT_LIMITS
from .inputs import Date
from .schemas import PHONE_DOC, PHONE_OR_EMPTY, StrictSchema, Text


class FeedbackCreateSchema(StrictSchema):
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    comment = Text(
        multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=1000)
    )


class FeedbackSchema(Schema):
    id = fields.Integer()
    ticket_id = fields.Integer()
    rating = fields.Integer()
    source = fields.String()
    created_at = fields.String()


class FeedbackPromptSchema(Schema):
    ticket_id = fields.Integer()
    label = fields.String()
    service = fields.String()
    service_name = fields.String()
    counter = fields.String(allow_none=True)
    counter_id = fields.Integer(allow_none=True)
    finished_at = fields.String()


# At least 10 characters once the spaces around are trimmed: two characters that are
# not spaces with 8 or more between them (line breaks and tabs allowed, no other
# control characters).
_ANY = "[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]"
_SOLID = "[^\\s\\u0000-\\u001F\\u007F-\\u009F]"
COMPLAINT_TEXT = validate.Regexp(f"^{_ANY}*{_SOLID}{_ANY}{{8,}}{_SOLID}{_ANY}*$")


class ComplaintCreateSchema(StrictSchema):
    kind = fields.String(
        load_default=ComplaintKind.COMPLAINT.value,
        validate=validate.OneOf([k.value for k in ComplaintKind]),
    )
    text = Text(
        multiline=True,
        required=True,
        validate=[validate.Length(min=10, max=4000), COMPLAINT_TEXT],
        metadata={"description": "10 to 4000 characters, not counting spaces around it"},
    )
    phone = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=32), PHONE_OR_EMPTY],
        metadata={**PHONE_DOC, "description": PHONE_DOC["description"] + ' Null or "": none.'},
    )
    name = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    service = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))


class ComplaintReceiptSchema(Schema):
    reference = fields.String(metadata={"example": "R7K3F9Q2"})
    kind = fields.String()
    due_at = fields.String()
    status_url = fields.String()


class ComplaintSchema(Schema):
    reference = fields.String()
    site = fields.String()
    kind = fields.String()
    status = fields.String(metadata={"enum": [s.value for s in ComplaintStatus]})
    text = fields.String()
    service = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    created_at = fields.String()
    due_at = fields.String()
    overdue = fields.Boolean()
    assigned_to = fields.String(allow_none=True)
    answer = fields.String(allow_none=True)
    answered_at = fields.String(allow_none=True)
    answer_by_sms = fields.Boolean()
    answer_sms_queued_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)


class ComplaintListArgs(Schema):
    status = fields.String(
        load_default="open",
        validate=validate.OneOf(["open", "overdue", "answered", "closed", "all"]),
    )


class AssignSchema(StrictSchema):
    user = fields.String(
        required=True, allow_none=True, metadata={"description": "e-mail, or null to unassign"}
    )


class AnswerSchema(StrictSchema):
    answer = Text(
        multiline=True, blank=False, required=True, validate=validate.Length(min=1, max=4000)
    )
    send_sms = fields.Boolean(load_default=False)


class RangeArgs(Schema):
    # "from" is a keyword: the field is named by data_key.
    first = Date(
        data_key="from", load_default=None, metadata={"description": "YYYY-MM-DD, site-local"}
    )
    last = Date(
        data_key="to", load_default=None, metadata={"description": "YYYY-MM-DD; default: today"}
    )
    format = fields.String(load_default=None, validate=validate.OneOf(["json", "csv"]))


class MinutesSchema(Schema):
    mean = fields.Float(allow_none=True)
    median = fields.Float(allow_none=True)
    p90 = fields.Float(allow_none=True)
    count = fields.Integer()


class SatisfactionSchema(Schema):
    mean = fields.Float(allow_none=True)
    count = fields.Integer()
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer())


class StatsRowSchema(Schema):
    issued = fields.Integer()
    served = fields.Integer()
    no_show = fields.Integer()
    cancelled = fields.Integer()
    transferred = fields.Integer()
    waiting_minutes = fields.Nested(MinutesSchema)
    service_minutes = fields.Nested(MinutesSchema)
    within_target_pct = fields.Float(allow_none=True)
    satisfaction = fields.Nested(SatisfactionSchema)
    estimate_error_minutes = fields.Dict(
        metadata={"description": "mean absolute error of the estimate given at issue"}
    )


class ServiceStatsSchema(StatsRowSchema):
    code = fields.String()
    name = fields.String()
    target_wait_minutes = fields.Integer(allow_none=True)


class NamedStatsSchema(StatsRowSchema):
    id = fields.Integer()
    name = fields.String()


class HourStatsSchema(StatsRowSchema):
    hour = fields.Integer()


class DayStatsSchema(StatsRowSchema):
    day = fields.String()


class SiteStatsSchema(StatsRowSchema):
    slug = fields.String()
    name = fields.String()


class StatsSchema(Schema):
    site = fields.String()
    site_name = fields.String()
    timezone = fields.String()
    sites = fields.List(fields.Nested(SiteStatsSchema))
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    totals = fields.Nested(StatsRowSchema)
    services = fields.List(fields.Nested(ServiceStatsSchema))
    counters = fields.List(fields.Nested(NamedStatsSchema))
    agents = fields.List(fields.Nested(NamedStatsSchema))
    hours = fields.List(fields.Nested(HourStatsSchema))
    days = fields.List(fields.Nested(DayStatsSchema))


def _commitment_variant(kind: CommitmentKind) -> dict:
    low, high = COMMITMENT_LIMITS[kind]
    variant: dict = {
        "properties": {
            "kind": {"type": "string", "enum": [kind.value]},
            "threshold": {"type": "integer", "minimum": low, "maximum": high},
        }
    }
    if kind != CommitmentKind.WAIT:
        # A service only for waiting times: null (or "") here.
        variant["properties"]["service"] = {"type": "string", "nullable": True, "maxLength": 0}
    return variant


class CommitmentItemSchema(StrictSchema):
    """One commitment; the limits of ``threshold`` depend on ``kind``.

    wait: minutes (1-480), optionally for one ``service``; satisfaction: the
    lowest rating that counts as satisfied (1-5); complaint_answer: days (1-365).
    """

    OPENAPI_EXTRA = {"oneOf": [_commitment_variant(kind) for kind in CommitmentKind]}

    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in CommitmentKind]))
    threshold = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(
            min(low for low, _ in COMMITMENT_LIMITS.values()),
            max(high for _, high in COMMITMENT_LIMITS.values()),
        ),
        metadata={
            "description": "wait: 1-480 minutes; satisfaction: 1-5; complaint_answer: 1-365 days"
        },
    )
    target_pct = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100))
    service = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={"description": "a service code, for a waiting time only"},
    )

    @validates_schema
    def _per_kind(self, data: dict, **kwargs: object) -> None:
        kind = CommitmentKind(data["kind"])
        low, high = COMMITMENT_LIMITS[kind]
        try:
            validate.Range(low, high)(data["threshold"])
        except ValidationError as exc:
            raise ValidationError(exc.messages, "threshold") from exc
        if kind != CommitmentKind.WAIT and data.get("service"):
            raise ValidationError("Only a waiting time is for one service.", "service")


class CommitmentResultSchema(Schema):
    kind = fields.String()
    threshold = fields.Integer()
    target_pct = fields.Integer()
    service = fields.String(allow_none=True)
    text = fields.String()
    achieved_pct = fields.Float(allow_none=True)
    sample = fields.Integer()
    met = fields.Boolean(allow_none=True)


class CommitmentsSchema(Schema):
    site = fields.String()
    site_name = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    commitments = fields.List(fields.Nested(CommitmentResultSchema))


class AuditEntrySchema(Schema):
    at = fields.String()
    actor = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String(allow_none=True)
    object_label = fields.String()
    changes = fields.Dict()
