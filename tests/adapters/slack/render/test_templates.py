"""Templates and labels in both locales; user text escaped; zh-CN reads Chinese, en not."""

from __future__ import annotations

from epbot.adapters.playbook_files import PlaybookSet
from epbot.adapters.slack import render as r
from epbot.adapters.slack.render.templates import labels
from epbot.domain.playbook import StageId
from tests.adapters.slack.render.samples import (
    CJK,
    EVIL,
    NOW,
    as_dict,
    context,
    declare,
    report,
    texts,
)


def test_every_template_exists_in_both_locales() -> None:
    en, zh = r.template_names("en"), r.template_names("zh-CN")
    assert en
    assert en == zh


def test_labels_have_the_same_keys_in_both_locales() -> None:
    assert set(labels("en")) == set(labels("zh-CN"))


def test_user_text_is_escaped_everywhere(library: PlaybookSet) -> None:
    state, events = declare(library, title=EVIL, place=EVIL, scope=EVIL, measures=EVIL)
    evil = report(title=EVIL, place=EVIL, scope=EVIL, measures=EVIL)
    for locale in ("en", "zh-CN"):
        ctx = context(locale)
        text, blocks = r.incident_card(state, evil, ctx)
        rendered = [text, texts(blocks), r.closing_report(state, evil, [], ctx)]
        rendered += [r.event_text(state, as_dict(e), ctx) or "" for e in events]
        rendered.append(
            r.event_text(
                state,
                {"kind": "update_posted", "actor": "U1", "at": NOW, "data": {"text": EVIL}},
                ctx,
            )
            or ""
        )
        for out in rendered:
            assert "<!channel>" not in out
            assert "<https://evil" not in out
            assert "<@U999>" not in out
        assert "&lt;!channel&gt;" in rendered[1]
        assert "&lt;https://evil|click&gt;" in rendered[1]


def test_escape_and_mentions() -> None:
    assert r.escape("<!channel> & <x>") == "&lt;!channel&gt; &amp; &lt;x&gt;"
    assert r.default_mention("U0123ABC") == "<@U0123ABC>"
    assert r.default_mention("a<b>@example.com") == "a&lt;b&gt;@example.com"


def test_zh_output_is_chinese_and_en_output_is_not(library: PlaybookSet) -> None:
    state, events = declare(library)
    samples: dict[str, list[str]] = {}
    for locale in ("en", "zh-CN"):
        ctx = context(locale)
        out = [texts(r.incident_card(state, report(), ctx)[1])]
        out.append(texts(r.stage_checklist(state, StageId.REPORT, ctx)[1]))
        out.append(texts(r.page_message(state, state.pages[0], ctx, channel_link=None)[1]))
        out += [r.event_text(state, as_dict(e), ctx) or "" for e in events]
        out.append(r.channel_topic(state, ctx))
        out.append(r.closing_report(state, report(), [], ctx))
        samples[locale] = out
    assert all(CJK.search(text) for text in samples["zh-CN"])
    assert not any(CJK.search(text) for text in samples["en"])
