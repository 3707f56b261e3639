"""SlackClient against FakeSlack: cached look-ups (locale, matrix ref, user id), the calls'
tolerated errors, and which failures are transient (retried) or permanent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from epbot.adapters.slack import client as client_module
from epbot.adapters.slack.client import CallFailure, SlackClient
from epbot.adapters.slack.pacing import Pacer
from epbot.fakeslack import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(rate_limits=False, hang_seconds=1)
    await server.start()
    yield server
    await server.stop()


def client(fake: FakeSlack, *, patience: float = 2.0, default: str = "zh-CN") -> SlackClient:
    made = SlackClient(
        fake.bot_token, base_url=fake.url, timeout=1, default_locale=default, patience=patience
    )
    made.backoff_start = 0.02
    return made


async def test_cached_locale_never_calls_slack(fake: FakeSlack) -> None:
    user = fake.workspace.add_user("en", locale="en-US")
    slack = client(fake)
    assert slack.cached_locale(user.id) == "zh-CN"  # unknown yet: the default
    assert fake.calls_to("users.info") == []
    assert await slack.locale(user.id) == "en"
    assert slack.cached_locale(user.id) == "en"
    assert len(fake.calls_to("users.info")) == 1
    assert fake.calls_to("users.info")[0].args["include_locale"] in (True, "true", "1")


@pytest.mark.parametrize(
    ("slack_locale", "ours"),
    [("zh-CN", "zh-CN"), ("zh-TW", "zh-CN"), ("en-GB", "en"), ("EN-us", "en"), ("fr-FR", "de")],
)
async def test_a_slack_locale_maps_to_ours(fake: FakeSlack, slack_locale: str, ours: str) -> None:
    user = fake.workspace.add_user("someone", locale=slack_locale)
    assert await client(fake, default="de").locale(user.id) == ours


async def test_an_unknown_user_reads_the_default_and_is_asked_again(fake: FakeSlack) -> None:
    slack = client(fake)
    assert await slack.locale("U0NOBODY") == "zh-CN"
    assert await slack.user_info("U0NOBODY") == {}
    assert len(fake.calls_to("users.info")) == 2  # a permanent "not found" is not cached


async def test_a_transient_failure_of_the_lookup_falls_back_to_the_default(
    fake: FakeSlack,
) -> None:
    user = fake.workspace.add_user("en", locale="en-US")
    slack = client(fake, patience=0.1)
    fake.inject_failure("users.info", status=503, times=10)
    assert await slack.locale(user.id) == "zh-CN"
    assert await slack.email(user.id) is None


async def test_person_ref_by_id_or_by_email_as_the_matrix_spells_it(fake: FakeSlack) -> None:
    known = fake.workspace.add_user("pm", email="PM@Vendor.example.com")
    stranger = fake.workspace.add_user("stranger", email="who@else.example.com")
    slack = client(fake)
    refs = ["U0INMATRIX", "pm@vendor.example.com"]
    assert await slack.person_ref("U0INMATRIX", refs) == "U0INMATRIX"
    assert fake.calls_to("users.info") == []  # an id in the matrix needs no look-up
    assert await slack.person_ref(known.id, refs) == "pm@vendor.example.com"
    assert await slack.person_ref(stranger.id, refs) == stranger.id
    assert await slack.person_ref(known.id, ["U0ONLY"]) == known.id  # no e-mails: no call
    assert len(fake.calls_to("users.info")) == 2


async def test_user_id_of_an_email_is_looked_up_once(fake: FakeSlack) -> None:
    user = fake.workspace.add_user("pm", email="pm@vendor.example.com")
    slack = client(fake)
    assert await slack.user_id("U0ALREADY") == "U0ALREADY"
    for _ in range(2):
        assert await slack.user_id("pm@vendor.example.com") == user.id
        assert await slack.user_id("gone@vendor.example.com") is None
    assert len(fake.calls_to("users.lookupByEmail")) == 2


async def test_people_asked_for_at_once_are_looked_up_once_each(fake: FakeSlack) -> None:
    # Every lane renders with the matrix's people: lanes starting together must not each
    # ask Slack for the same e-mail (users.lookupByEmail is tier 4, and a 429 pauses it).
    fake.latency = 0.05
    users = [fake.workspace.add_user(f"p{n}", email=f"p{n}@vendor.example.com") for n in range(5)]
    slack = client(fake)
    refs = [f"p{n}@vendor.example.com" for n in range(5)]
    found = await asyncio.gather(
        *(slack.known_ids([*refs, "gone@vendor.example.com"]) for _ in range(4))
    )
    assert all(each == {u.email: u.id for u in users} for each in found)
    assert len(fake.calls_to("users.lookupByEmail")) == 6  # one per person, not 24


async def test_a_persons_requests_at_once_ask_users_info_once(fake: FakeSlack) -> None:
    # A burst of one person's clicks looks their locale up after each ack: one call.
    fake.latency = 0.05
    user = fake.workspace.add_user("pm", email="pm@vendor.example.com", locale="en-US")
    slack = client(fake)
    assert await asyncio.gather(*(slack.locale(user.id) for _ in range(10))) == ["en"] * 10
    assert len(fake.calls_to("users.info")) == 1


async def test_a_lookup_one_caller_gave_up_on_still_answers_the_others(fake: FakeSlack) -> None:
    fake.latency = 0.2
    user = fake.workspace.add_user("pm", email="pm@vendor.example.com")
    slack = client(fake)
    impatient = asyncio.ensure_future(slack.user_id("pm@vendor.example.com"))
    patient = asyncio.ensure_future(slack.user_id("pm@vendor.example.com"))
    await asyncio.sleep(0.05)
    impatient.cancel()
    assert await patient == user.id
    assert len(fake.calls_to("users.lookupByEmail")) == 1


async def test_a_transient_lookup_failure_reaches_every_caller_and_is_asked_again(
    fake: FakeSlack,
) -> None:
    user = fake.workspace.add_user("pm", email="pm@vendor.example.com")
    slack = client(fake, patience=0)
    fake.inject_failure("users.lookupByEmail", status=503, times=1)
    fake.latency = 0.05
    outcomes = await asyncio.gather(
        slack.user_id("pm@vendor.example.com"),
        slack.user_id("pm@vendor.example.com"),
        return_exceptions=True,
    )
    assert all(isinstance(o, CallFailure) and o.transient for o in outcomes)
    assert await slack.user_id("pm@vendor.example.com") == user.id  # not cached as unknown


async def test_tolerated_errors_are_not_failures(fake: FakeSlack) -> None:
    channel = fake.workspace.add_channel("room", bot_is_member=True)
    member = fake.workspace.add_user("member")
    slack = client(fake)
    await slack.invite(channel.id, [])
    assert fake.calls_to("conversations.invite") == []  # nobody to invite: no call
    fake.inject_failure("conversations.invite", status="already_in_channel")
    await slack.invite(channel.id, [member.id])
    fake.inject_failure("pins.add", status="already_pinned")
    await slack.pin(channel.id, "1.000001")
    fake.inject_failure("pins.add", status="message_not_found")
    with pytest.raises(CallFailure) as failed:
        await slack.pin(channel.id, "1.000001")
    assert (failed.value.error, failed.value.transient) == ("message_not_found", False)


async def test_a_server_error_is_retried_and_a_refusal_is_not(fake: FakeSlack) -> None:
    channel = fake.workspace.add_channel("room", bot_is_member=True)
    slack = client(fake)
    fake.inject_failure("chat.postMessage", status=500)
    posted = await slack.post_message(channel.id, "hello")
    assert posted["ok"] is True
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [500, 200]
    with pytest.raises(CallFailure) as failed:
        await slack.post_message("C0NOSUCH", "hello")
    assert (failed.value.method, failed.value.error) == ("chat.postMessage", "channel_not_found")
    assert not failed.value.transient
    assert len(fake.calls_to("chat.postMessage")) == 3  # the refusal was not retried


async def test_a_failure_past_its_patience_is_transient(fake: FakeSlack) -> None:
    channel = fake.workspace.add_channel("room", bot_is_member=True)
    slack = client(fake, patience=0.1)
    fake.inject_failure("chat.postMessage", status=502, times=100)
    with pytest.raises(CallFailure) as failed:
        await slack.post_message(channel.id, "hello")
    assert failed.value.transient
    assert "transient" in str(failed.value)


async def test_a_429_names_its_retry_after_and_pauses_the_method(fake: FakeSlack) -> None:
    channel = fake.workspace.add_channel("room", bot_is_member=True)
    slack = client(fake, patience=0.5)
    slack.pacer = Pacer(enabled=True)
    fake.inject_failure("chat.postMessage", status=429, retry_after=3)
    with pytest.raises(CallFailure) as failed:
        await slack.post_message(channel.id, "hello")
    assert (failed.value.error, failed.value.retry_after) == ("ratelimited", 3.0)
    assert failed.value.transient
    assert slack.pacer.wait_needed("chat.postMessage", channel.id) > 2.0


async def test_ephemeral_reaches_only_its_person(fake: FakeSlack) -> None:
    member = fake.workspace.add_user("member")
    channel = fake.workspace.add_channel("room", members=[member.id], bot_is_member=True)
    await client(fake).post_ephemeral(channel.id, member.id, "just for you")
    [sent] = fake.workspace.ephemerals
    assert (sent.channel, sent.user, sent.text) == (channel.id, member.id, "just for you")


def test_a_call_failure_passes_through_a_context_manager() -> None:
    # contextlib sets the exception's __traceback__ on the way out; a frozen dataclass
    # refused that and turned every CallFailure into FrozenInstanceError.
    import contextlib

    @contextlib.contextmanager
    def around() -> Iterator[None]:
        yield

    with pytest.raises(CallFailure) as caught, around():
        raise CallFailure("chat.postMessage", "ratelimited", True, retry_after=1.0)
    assert caught.value.retry_after == 1.0


async def test_a_slow_language_look_up_does_not_hold_the_message(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # users.info keeps failing (a 5xx, then a retry...): the message waits LOCALE_WAIT at
    # most and goes out in the workspace's language; the look-up goes on, and the next
    # message to that person reads its answer.
    monkeypatch.setattr(client_module, "LOCALE_WAIT", 0.2)
    user = fake.workspace.add_user("en", locale="en-US")
    slack = client(fake, patience=5)
    slack.backoff_start = 0.6  # the retries outlast the wait
    fake.inject_failure("users.info", status=503, times=1)
    # The retry (0.3 s or more after the 503) would answer "en": the default shows the
    # message did not wait for it.
    assert await slack.locale(user.id) == "zh-CN"
    await asyncio.sleep(0.8)  # the look-up, retried in the background, answers
    assert slack.cached_locale(user.id) == "en"
    assert await slack.locale(user.id) == "en"
    assert len(fake.calls_to("users.info")) == 2


async def test_a_failing_id_look_up_does_not_hold_the_message(fake: FakeSlack) -> None:
    # users.lookupByEmail answers 429 (Retry-After 2 s) for one person: the message's
    # mentions wait MENTION_WAIT at most, with the people Slack has told; the look-up goes
    # on, and a later message mentions that person too.
    known = fake.workspace.add_user("dba", email="dba@vendor.example.com")
    slow = fake.workspace.add_user("pm", email="pm@vendor.example.com")
    slack = client(fake, patience=10)
    slack.pacer = Pacer()  # a 429 pauses the method for its Retry-After, as when serving
    assert await slack.user_id("dba@vendor.example.com") == known.id
    fake.inject_failure("users.lookupByEmail", status=429, retry_after=2, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    found = await slack.known_ids(["dba@vendor.example.com", "pm@vendor.example.com"], wait=0.3)
    assert loop.time() - started < 1.0  # not the 2 s of the Retry-After
    assert found == {"dba@vendor.example.com": known.id}
    await asyncio.sleep(2.5)  # the look-up, paused by the 429, is asked again and answers
    found = await slack.known_ids(["dba@vendor.example.com", "pm@vendor.example.com"], wait=0.3)
    assert found == {"dba@vendor.example.com": known.id, "pm@vendor.example.com": slow.id}
    assert len(fake.calls_to("users.lookupByEmail")) == 3  # dba once; pm's 429 and its retry


async def test_with_pacing_off_a_429_still_waits_its_retry_after(fake: FakeSlack) -> None:
    # EPBOT_SLACK_PACING=false turns the shared pauses off, not Slack's rule: the call that
    # got the 429 waits Retry-After before asking again (it used to ask again at once).
    channel = fake.workspace.add_channel("room", bot_is_member=True)
    slack = client(fake, patience=5)
    assert not slack.pacer.enabled
    fake.inject_failure("chat.postMessage", status=429, retry_after=1, times=1)
    await slack.post_message(channel.id, "after the pause")
    first, second = fake.calls_to("chat.postMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.95


async def test_one_failing_look_up_at_start_does_not_cost_the_others_languages(
    fake: FakeSlack,
) -> None:
    # Starting while Slack is in trouble: one person's look-up fails for now. Everyone
    # else's language is still learnt; the failed one is asked again when needed.
    failing = fake.workspace.add_user("pm", email="pm@vendor.example.com", locale="en-US")
    fine = fake.workspace.add_user("dba", locale="en-US")
    slack = client(fake, patience=0, default="zh-CN")
    fake.inject_failure("users.lookupByEmail", status=503, times=1)
    await slack.warm(["pm@vendor.example.com", fine.id])
    assert slack.cached_locale(fine.id) == "en"
    assert slack.cached_locale(failing.id) == "zh-CN"  # not learnt yet: the default
    assert await slack.user_id("pm@vendor.example.com") == failing.id  # asked again


async def test_warming_learns_the_matrix_peoples_ids_and_languages(fake: FakeSlack) -> None:
    by_mail = fake.workspace.add_user("pm", email="pm@vendor.example.com", locale="en-US")
    by_id = fake.workspace.add_user("dba", locale="zh-CN")
    slack = client(fake, default="de")  # so what was learnt is not the default
    await slack.warm(["pm@vendor.example.com", by_id.id, "gone@vendor.example.com"])
    assert slack.cached_locale(by_mail.id) == "en"
    assert slack.cached_locale(by_id.id) == "zh-CN"
    calls = len(fake.calls)
    assert await slack.user_id("pm@vendor.example.com") == by_mail.id
    assert await slack.locale(by_mail.id) == "en"
    assert len(fake.calls) == calls  # nothing asked again
