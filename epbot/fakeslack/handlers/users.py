"""users.* methods."""

from __future__ import annotations

from epbot.fakeslack.args import SlackError, get_bool, get_str
from epbot.fakeslack.handlers.common import Ctx, Handler, Json, ok, paginate
from epbot.fakeslack.shapes import user_json


def info(ctx: Ctx) -> Json:
    """users.info (``locale`` only with ``include_locale``)."""
    user = ctx.ws.users.get(get_str(ctx.args, "user"))
    if user is None:
        raise SlackError("user_not_found")
    return ok(user=user_json(ctx.ws, user, include_locale=get_bool(ctx.args, "include_locale")))


def lookup_by_email(ctx: Ctx) -> Json:
    """users.lookupByEmail."""
    user = ctx.ws.user_by_email(get_str(ctx.args, "email"))
    if user is None:
        raise SlackError("users_not_found")
    return ok(user=user_json(ctx.ws, user))


def list_(ctx: Ctx) -> Json:
    """users.list, paginated."""
    page, cursor = paginate(ctx, list(ctx.ws.users.values()), default_limit=1000)
    locale = get_bool(ctx.args, "include_locale")
    return ok(
        members=[user_json(ctx.ws, u, include_locale=locale) for u in page],
        cache_ts=ctx.ws.now(),
        response_metadata={"next_cursor": cursor},
    )


HANDLERS: dict[str, Handler] = {
    "users.info": info,
    "users.lookupByEmail": lookup_by_email,
    "users.list": list_,
}
