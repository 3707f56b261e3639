"""Playbook and matrix files: YAML with line/column marks, located errors, hot reload.

The domain validates data and reports each issue with a *path* into that data; this
module reads the YAML, remembers where every value sits, and turns each path into
``file:line:column: message``. :class:`PlaybookLibrary` holds the current set in memory;
:class:`PlaybookWatcher` (started by the composition root) re-reads the directory when a
file's mtime changes, so new incidents see edits without a restart; a running incident
keeps the snapshot it was declared with (``Playbook.canonical_json`` + ``content_hash``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from epbot.domain.alerts import AlertRules, check_alert_rules, parse_alert_rules
from epbot.domain.drills import DrillPlan
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import Playbook
from epbot.domain.validation import (
    DataPath,
    Issue,
    check_matrix,
    check_names,
    check_playbook,
    parse_matrix,
    parse_playbook,
)

log = logging.getLogger(__name__)

MATRIX_FILE = "matrix.yaml"
ALERTS_FILE = "alerts.yaml"  # the alert routing rules (docs/alerts.md), not a playbook
DRILLS_FILE = "drills.yaml"  # the drill programme (docs/reports.md), not a playbook
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, order=True)
class LoadError:
    """One located problem; ``str()`` is ``file:line:column: message`` (1-based)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PlaybookSetError(Exception):
    """The playbooks and matrix do not validate; ``errors`` says where and why."""

    def __init__(self, errors: list[LoadError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


# ---------------------------------------------------------------------------- marked YAML


@dataclass
class MarkedDocument:
    """Plain data loaded from YAML plus the (line, column) of every value and key."""

    file: str
    data: Any
    values: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[DataPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, issue: Issue) -> LoadError:
        """The issue at the nearest existing position of its path."""
        path = issue.path
        if issue.at_key and path in self.keys:
            line, column = self.keys[path]
        else:
            while path and path not in self.values:
                path = path[:-1]
            line, column = self.values.get(path, (1, 1))
        return LoadError(self.file, line, column, issue.message)


class _Builder:
    """Builds plain data from a composed YAML node tree, recording marks on the way."""

    def __init__(self, loader: yaml.SafeLoader, doc: MarkedDocument) -> None:
        self._loader = loader
        self._doc = doc
        self._active: set[int] = set()
        self.errors: list[LoadError] = []

    def _where(self, mark: yaml.Mark) -> tuple[int, int]:
        return mark.line + 1, mark.column + 1

    def build(self, node: yaml.Node, path: DataPath) -> Any:
        self._doc.values[path] = self._where(node.start_mark)
        if id(node) in self._active:
            line, column = self._where(node.start_mark)
            self.errors.append(LoadError(self._doc.file, line, column, "recursive YAML alias"))
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, k)) for k, item in enumerate(node.value)]
            return self._loader.construct_object(node, deep=True)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: DataPath) -> dict[Any, Any]:
        self._loader.flatten_mapping(node)  # resolves `<<` merge keys
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._loader.construct_object(key_node, deep=True)
            line, column = self._where(key_node.start_mark)
            if not isinstance(key, str | int | float | bool) and key is not None:
                self.errors.append(
                    LoadError(self._doc.file, line, column, "a mapping key must be a plain word")
                )
                continue
            if key in result:
                self.errors.append(
                    LoadError(self._doc.file, line, column, f"duplicate key {key!r}")
                )
                continue
            child: DataPath = (*path, key if isinstance(key, str | int) else str(key))
            self._doc.keys[child] = (line, column)
            result[key] = self.build(value_node, child)
        return result


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> LoadError:
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or b"?")
    return LoadError(
        file, line, column, f"YAML syntax error: unacceptable character #x{char:04x}: {exc.reason}"
    )


def read_marked(text: str, file: str) -> tuple[MarkedDocument, list[LoadError]]:
    """Parse one YAML document, keeping marks; syntax errors come back located."""
    doc = MarkedDocument(file=file, data=None)
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        return doc, [_reader_error(exc, text, file)]
    try:
        node = loader.get_single_node()
        if node is None:
            return doc, []
        builder = _Builder(loader, doc)
        doc.data = builder.build(node, ())
        return doc, builder.errors
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "unreadable"
        return doc, [LoadError(file, line, column, f"YAML syntax error: {problem}")]
    except yaml.reader.ReaderError as exc:
        return doc, [_reader_error(exc, text, file)]
    except yaml.YAMLError as exc:
        return doc, [LoadError(file, 1, 1, f"YAML error: {exc}")]
    finally:
        loader.dispose()


def _read_file(path: Path) -> tuple[MarkedDocument, list[LoadError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return MarkedDocument(str(path), None), [LoadError(str(path), 0, 0, f"cannot read: {exc}")]
    return read_marked(text, str(path))


# ---------------------------------------------------------------------------- the set


@dataclass(frozen=True)
class PlaybookSet:
    """A validated set: every playbook, the matrix, and the file each playbook came from."""

    playbooks: tuple[Playbook, ...]
    matrix: Matrix
    files: dict[str, Path] = field(default_factory=dict)  # playbook id -> file
    alert_rules: AlertRules = field(default_factory=AlertRules)
    drills: DrillPlan = field(default_factory=DrillPlan)

    def get(self, name: str) -> Playbook | None:
        """The playbook whose id or alias is ``name`` (case-insensitive, zh or en)."""
        return next((pb for pb in self.playbooks if pb.matches(name)), None)

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self.playbooks)


def playbook_files(directory: Path, matrix_path: Path) -> list[Path]:
    """The playbook files of ``directory`` (``*.yaml``, ``*.yml``), sorted, matrix excluded."""
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in _SUFFIXES
        and p.is_file()
        and p.resolve() != matrix_path.resolve()
        and p.name not in (ALERTS_FILE, DRILLS_FILE)
    )


def _located(doc: MarkedDocument, issues: Iterable[Issue]) -> list[LoadError]:
    return [doc.locate(issue) for issue in issues]


def check_playbook_document(
    doc: MarkedDocument, matrix: Matrix | None
) -> tuple[Playbook | None, list[LoadError]]:
    """Parse and cross-check one loaded playbook document; errors are located."""
    playbook, issues = parse_playbook(doc.data)
    if playbook is not None:
        issues = check_playbook(playbook, matrix)
    return playbook, _located(doc, issues)


def check_playbook_text(
    text: str, file: str, matrix: Matrix | None
) -> tuple[Playbook | None, list[LoadError]]:
    """Validate one playbook given as YAML text (e.g. an upload); errors are located."""
    doc, errors = read_marked(text, file)
    if errors:
        return None, errors
    playbook, errors = check_playbook_document(doc, matrix)
    return (playbook if not errors else None), errors


def _load_matrix(matrix_path: Path) -> tuple[Matrix | None, list[LoadError]]:
    if not matrix_path.is_file():
        return None, [LoadError(str(matrix_path), 0, 0, "matrix file not found")]
    doc, errors = _read_file(matrix_path)
    if errors:
        return None, errors
    matrix, issues = parse_matrix(doc.data)
    if matrix is not None:
        issues = check_matrix(matrix)
    # A matrix with cross-check errors is still good enough to check playbook roles against.
    return matrix, _located(doc, issues)


def load_playbook_set(
    directory: Path, matrix_path: Path | None = None
) -> tuple[PlaybookSet | None, list[LoadError]]:
    """Read and validate every playbook of ``directory`` and the matrix, all together.

    Returns the set (``None`` when anything is wrong) and every error, sorted by file and
    position. The matrix defaults to ``directory/matrix.yaml``.
    """
    matrix_path = matrix_path if matrix_path is not None else directory / MATRIX_FILE
    matrix, errors = _load_matrix(matrix_path)
    files = playbook_files(directory, matrix_path)
    if not directory.is_dir():
        errors.append(LoadError(str(directory), 0, 0, "playbook directory not found"))
    elif not files:
        errors.append(LoadError(str(directory), 0, 0, "no playbook files (*.yaml) found"))
    loaded: list[tuple[Path, MarkedDocument, Playbook]] = []
    for path in files:
        doc, file_errors = _read_file(path)
        if not file_errors:
            playbook, file_errors = check_playbook_document(doc, matrix)
            if playbook is not None:
                if playbook.id != path.stem:
                    file_errors.append(
                        doc.locate(
                            Issue(
                                ("id",),
                                f"playbook id {playbook.id!r} does not match its file name "
                                f"{path.name!r} (name the file {playbook.id}{path.suffix})",
                            )
                        )
                    )
                loaded.append((path, doc, playbook))
        errors += file_errors
    for n, issue in check_names([pb for _, _, pb in loaded]):
        errors.append(loaded[n][1].locate(issue))
    rules, rule_errors = _load_alert_rules(
        directory / ALERTS_FILE, [pb.id for _, _, pb in loaded], matrix
    )
    errors += rule_errors
    from epbot.adapters.drill_files import load_drills  # it reads YAML with this module

    # A playbook that fails to load still counts as known here: its own error is enough.
    known = sorted({pb.id for _, _, pb in loaded} | {path.stem for path in files})
    drills, drill_errors = load_drills(directory / DRILLS_FILE, known, matrix)
    errors += drill_errors
    if errors or matrix is None:
        return None, sorted(set(errors))
    return (
        PlaybookSet(
            playbooks=tuple(pb for _, _, pb in loaded),
            matrix=matrix,
            files={pb.id: path for path, _, pb in loaded},
            alert_rules=rules,
            drills=drills,
        ),
        [],
    )


def _load_alert_rules(
    path: Path, playbooks: list[str], matrix: Matrix | None
) -> tuple[AlertRules, list[LoadError]]:
    """The alert routing rules next to the playbooks (none: an empty set), located errors."""
    if not path.is_file():
        return AlertRules(), []
    doc, errors = _read_file(path)
    if errors:
        return AlertRules(), errors
    rules, issues = parse_alert_rules(doc.data)
    if rules is not None:
        units = [u.id for u in matrix.units] if matrix is not None else []
        issues = check_alert_rules(rules, playbooks=playbooks, units=units)
    return rules or AlertRules(), _located(doc, issues)


def load_or_raise(directory: Path, matrix_path: Path | None = None) -> PlaybookSet:
    """The validated set, or :class:`PlaybookSetError` (the bot refuses to start on it)."""
    loaded, errors = load_playbook_set(directory, matrix_path)
    if loaded is None:
        raise PlaybookSetError(errors)
    return loaded


# ---------------------------------------------------------------------------- hot reload


RECHECK_SECONDS = 1.0  # how often the watcher looks at the files


class PlaybookLibrary:
    """The current playbook set, in memory; ``refresh`` re-reads it when any file changed
    (mtime, size, added, removed).

    Readers never touch the disk: :class:`PlaybookWatcher` calls ``refresh`` on a timer.
    An edit that breaks the set is not taken: the last valid set stays in use and
    ``errors`` lists what is wrong, so a typo never takes the bot down mid-shift.
    """

    def __init__(self, directory: Path, matrix_path: Path | None = None) -> None:
        self.directory = directory
        self.matrix_path = matrix_path if matrix_path is not None else directory / MATRIX_FILE
        self.errors: list[LoadError] = []
        self._current: PlaybookSet | None = None
        self._stamp: tuple[tuple[str, int, int], ...] | None = None

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        stamps = []
        files = playbook_files(self.directory, self.matrix_path)
        for path in [
            self.matrix_path,
            *files,
            self.directory / ALERTS_FILE,
            self.directory / DRILLS_FILE,
        ]:
            try:
                st = path.stat()
            except OSError:
                continue
            stamps.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def load(self) -> PlaybookSet:
        """Load at start-up; raise :class:`PlaybookSetError` on an invalid set."""
        stamp = self._fingerprint()
        try:
            self._current = load_or_raise(self.directory, self.matrix_path)
        except PlaybookSetError as exc:
            self.errors = exc.errors
            raise
        self._stamp = stamp
        self.errors = []
        return self._current

    def refresh(self) -> bool:
        """Re-read the files if they changed; True when a new valid set was taken."""
        stamp = self._fingerprint()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        loaded, errors = load_playbook_set(self.directory, self.matrix_path)
        self.errors = errors
        if loaded is None:
            for error in errors:
                log.warning("playbook edit not taken: %s", error)
            return False
        self._current = loaded
        log.info("playbooks reloaded from %s", self.directory)
        return True

    @property
    def current(self) -> PlaybookSet:
        """The latest valid set (memory only: a request reads it several times)."""
        if self._current is None:
            if self.errors:
                raise PlaybookSetError(self.errors)
            raise RuntimeError(f"the playbooks in {self.directory} were not loaded")
        return self._current

    @property
    def matrix(self) -> Matrix:
        return self.current.matrix

    def playbooks(self) -> tuple[Playbook, ...]:
        return self.current.playbooks

    def get(self, name: str) -> Playbook | None:
        """The playbook with id or alias ``name`` (case-insensitive), from the latest files."""
        return self.current.get(name)


class PlaybookWatcher:
    """Looks at the playbook files every ``interval`` seconds and takes a valid edit.

    The look (a ``stat`` per file, a parse when one changed) runs in a worker thread, off
    the event loop; the set is swapped in one assignment, so readers see the old set or
    the new one, never half of each.
    """

    def __init__(self, library: PlaybookLibrary, *, interval: float = RECHECK_SECONDS) -> None:
        self.library = library
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="epbot-playbooks"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(self.library.refresh)
            except Exception:  # an unreadable folder must not stop later looks
                log.exception("could not look at the playbooks in %s", self.library.directory)
