"""Find audit anchors in files an export wrote (Markdown, JSON, HTML, PDF) or a folder of them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from epbot.domain.anchor import Anchor, find_anchors


class AnchorFileError(Exception):
    pass


def _text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(b"%PDF"):
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    return data.decode("utf-8", errors="replace")


def read_anchors(paths: Iterable[str | Path]) -> list[Anchor]:
    """Every anchor in the given files; a folder means each file in it (not below)."""
    anchors: list[Anchor] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise AnchorFileError(f"no such anchor file: {str(given)!r}")
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                anchors += find_anchors(_text(file))
            except Exception as exc:  # an unreadable file among exports is reported, not fatal
                raise AnchorFileError(f"cannot read anchors from {str(file)!r}: {exc}") from None
    return anchors
