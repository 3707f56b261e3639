"""Block Kit and mrkdwn rendering of incidents, in zh-CN and en.

Every user-facing word lives in ``epbot/adapters/templates/<locale>/*.j2``; this package
chooses the template, lays out the blocks and keeps to Slack's limits. One module a job:
``templates`` (Jinja2, labels, the helpers templates call), ``vocabulary`` (the plan's
names in a locale, shared with the report files), ``blocks`` (Block Kit pieces),
``messages`` (card, pages, approvals, thread lines), ``checklist``, ``modals``, ``home``
(App Home, ``/incident list``), ``naming`` (channel name and topic, playbook names),
``closing`` (the closing report) and ``digest`` (the deadlines digest, a person's
reminders). Callers use the names re-exported here.
"""

from epbot.adapters.slack.mrkdwn import default_mention, escape
from epbot.adapters.slack.render.blocks import Blocks
from epbot.adapters.slack.render.checklist import stage_checklist
from epbot.adapters.slack.render.closing import (
    closing_report,
    closing_report_message,
    closing_summary,
)
from epbot.adapters.slack.render.digest import (
    Deadlines,
    deadlines,
    digest_message,
    reminder_message,
)
from epbot.adapters.slack.render.home import IncidentRef, home_view, incident_list
from epbot.adapters.slack.render.messages import (
    approval_message,
    broadcast_text,
    confirmation_text,
    event_text,
    incident_card,
    page_message,
)
from epbot.adapters.slack.render.modals import (
    ASSIGNEE_FIELD,
    REASON_FIELD,
    REPORT_FIELDS,
    reason_modal,
    reassign_modal,
    report_modal,
)
from epbot.adapters.slack.render.naming import (
    channel_name,
    channel_topic,
    help_text,
    unknown_type_text,
)
from epbot.adapters.slack.render.templates import (
    RenderContext,
    label,
    template_names,
)

__all__ = [
    "ASSIGNEE_FIELD",
    "REASON_FIELD",
    "REPORT_FIELDS",
    "Blocks",
    "Deadlines",
    "IncidentRef",
    "RenderContext",
    "approval_message",
    "broadcast_text",
    "channel_name",
    "channel_topic",
    "closing_report",
    "closing_report_message",
    "closing_summary",
    "deadlines",
    "default_mention",
    "digest_message",
    "escape",
    "confirmation_text",
    "event_text",
    "help_text",
    "home_view",
    "incident_card",
    "incident_list",
    "label",
    "page_message",
    "reason_modal",
    "reassign_modal",
    "reminder_message",
    "report_modal",
    "stage_checklist",
    "template_names",
    "unknown_type_text",
]
