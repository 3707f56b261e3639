"""What each engine event means in Slack, for each of its audiences.

The worker (``delivery.py``) hands over rows of one lane to :class:`SlackEffects`
(``dispatch``), which hands each row to the effects of its audience: the incident's room
(``room``: channel, topic, pinned card, checklists, thread, announcement and the closing
report), a person (``people``: the page or approval request in their DM), or a unit's
channel (``channel``: a broadcast); the plan's reports and receipts reach all three
(``reports``). The room's lane only posts; what its batches change in messages already
posted (card, checklists, DMs, notices, topic) and its invitations are the incident's
edits lane's, so no post waits for an edit. The announcement channel is a lane of its own
(the announcement, kept current, and the closing summary), handed its first row with the
incident's channel. Deadlines (reminders, overdue
notices, nudges) are one digest in the room and one DM per person (``digest``), not a
message each. Messages are rendered from the incident's *current* state, so a late or
retried delivery shows what is true now. Every call that creates something is remembered
in ``message_ref`` (or on the incident row) before the next one (``common``), so a
retried row never posts twice.
"""

from epbot.adapters.slack.effects.dispatch import SlackEffects

__all__ = ["SlackEffects"]
