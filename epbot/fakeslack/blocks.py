"""Block Kit validation: slack_sdk's own validators plus the limits Slack documents.

Slack publishes no JSON schema for Block Kit; parsing with ``Block.parse_all`` and calling
``to_dict()`` runs slack_sdk's validators. On top of that the fake enforces the message-,
modal- and element-level limits that Slack documents, and rejects unknown types (which
slack_sdk would silently drop). Problems come back in Slack's wording:
``[ERROR] <what> [json-pointer:/blocks/0/text]``.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, BlockElement
from slack_sdk.models.views import View

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_ACTIONS_ELEMENTS = 25
MAX_SECTION_TEXT = 3000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_MODAL_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_ID = 255  # action_id and block_id

_TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
_ELEMENT_TYPES = frozenset(
    str(t) for t in (getattr(c, "type", None) for c in BlockElement._get_sub_block_elements()) if t
)
_IDS = ("action_id", "block_id")


def _problem(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _check_ids(node: Any, pointer: str, problems: list[str]) -> None:
    """action_id / block_id length anywhere in the tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _IDS and isinstance(value, str) and len(value) > MAX_ID:
                problems.append(
                    _problem(f"must be less than {MAX_ID + 1} characters", f"{pointer}/{key}")
                )
            _check_ids(value, f"{pointer}/{key}", problems)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _check_ids(value, f"{pointer}/{index}", problems)


def _text_of(node: Any) -> str:
    if isinstance(node, dict):
        text = node.get("text")
        return text if isinstance(text, str) else ""
    return node if isinstance(node, str) else ""


def _check_element(
    element: Any, pointer: str, problems: list[str], allowed: frozenset[str]
) -> None:
    if not isinstance(element, dict) or element.get("type") not in allowed:
        kind = element.get("type") if isinstance(element, dict) else type(element).__name__
        problems.append(_problem(f"unsupported type: {kind}", f"{pointer}/type"))
        return
    if element["type"] == "button":
        if len(_text_of(element.get("text"))) > MAX_BUTTON_TEXT:
            problems.append(
                _problem(
                    f"must be less than {MAX_BUTTON_TEXT + 1} characters", f"{pointer}/text/text"
                )
            )
        value = element.get("value")
        if isinstance(value, str) and len(value) > MAX_BUTTON_VALUE:
            problems.append(
                _problem(f"must be less than {MAX_BUTTON_VALUE + 1} characters", f"{pointer}/value")
            )


def _check_block_limits(block: dict[str, Any], pointer: str, problems: list[str]) -> None:
    kind = block.get("type")
    if kind == "section":
        if len(_text_of(block.get("text"))) > MAX_SECTION_TEXT:
            problems.append(
                _problem(
                    f"must be less than {MAX_SECTION_TEXT + 1} characters", f"{pointer}/text/text"
                )
            )
        if "accessory" in block:
            _check_element(block["accessory"], f"{pointer}/accessory", problems, _ELEMENT_TYPES)
    elif kind == "actions":
        elements = block.get("elements")
        if isinstance(elements, list):
            if len(elements) > MAX_ACTIONS_ELEMENTS:
                problems.append(
                    _problem(
                        f"no more than {MAX_ACTIONS_ELEMENTS} items allowed", f"{pointer}/elements"
                    )
                )
            for index, element in enumerate(elements):
                _check_element(element, f"{pointer}/elements/{index}", problems, _ELEMENT_TYPES)
    elif kind == "context":
        for index, element in enumerate(block.get("elements") or []):
            _check_element(
                element, f"{pointer}/elements/{index}", problems, _TEXT_TYPES | {"image"}
            )
    elif kind == "input" and "element" in block:
        _check_element(block["element"], f"{pointer}/element", problems, _ELEMENT_TYPES)


def _check_block(block: Any, pointer: str, problems: list[str]) -> None:
    if not isinstance(block, dict):
        problems.append(_problem("expected an object", pointer))
        return
    before = len(problems)
    _check_block_limits(block, pointer, problems)
    if len(problems) > before:
        return  # slack_sdk would report the same thing less precisely
    try:
        parsed = Block.parse(block)
        if parsed is None:
            problems.append(_problem(f"unsupported type: {block.get('type')}", f"{pointer}/type"))
            return
        parsed.to_dict()
    except Exception as error:  # slack_sdk raises several kinds; any of them means invalid
        problems.append(_problem(str(error) or type(error).__name__, pointer))


def block_problems(blocks: Any, *, limit: int, pointer: str = "/blocks") -> list[str]:
    """Everything wrong with a list of blocks, in Slack's message format (empty when valid)."""
    if not isinstance(blocks, list):
        return [_problem("expected an array", pointer)]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(_problem(f"no more than {limit} items allowed", pointer))
    _check_ids(blocks, pointer, problems)
    for index, block in enumerate(blocks):
        _check_block(block, f"{pointer}/{index}", problems)
    return problems


def message_block_problems(blocks: Any) -> list[str]:
    """Problems with a message's ``blocks`` (at most 50)."""
    return block_problems(blocks, limit=MAX_MESSAGE_BLOCKS)


def view_problems(view: Any, *, expected_types: frozenset[str]) -> list[str]:
    """Problems with a ``view`` payload for views.open/update/push (modal) or publish (home)."""
    if not isinstance(view, dict):
        return [_problem("expected an object", "/view")]
    kind = view.get("type")
    if kind not in expected_types:
        return [_problem(f"unsupported type: {kind}", "/view/type")]
    problems: list[str] = []
    if kind == "modal" and not view.get("title"):
        problems.append(_problem("missing required field: title", "/view"))
    if len(_text_of(view.get("title"))) > MAX_MODAL_TITLE:
        problems.append(
            _problem(f"must be less than {MAX_MODAL_TITLE + 1} characters", "/view/title/text")
        )
    metadata = view.get("private_metadata")
    if isinstance(metadata, str) and len(metadata) > MAX_PRIVATE_METADATA:
        problems.append(
            _problem(
                f"must be less than {MAX_PRIVATE_METADATA + 1} characters", "/view/private_metadata"
            )
        )
    problems += block_problems(
        view.get("blocks", []), limit=MAX_VIEW_BLOCKS, pointer="/view/blocks"
    )
    if problems:
        return problems
    try:
        View(**view).to_dict()
    except Exception as error:  # any slack_sdk complaint makes the view invalid
        problems.append(_problem(str(error) or type(error).__name__, "/view"))
    return problems
