"""Validation of playbooks and the responsibility matrix: located, human-readable issues.

Pure: stdlib + pydantic only. ``issues`` holds the :class:`Issue` type and the helpers the
checks share; ``parsing`` turns pydantic errors into issues; ``steps`` and ``playbooks``
check a playbook, ``matrix`` the responsibility matrix. Callers import from here.
"""

from epbot.domain.validation.issues import DataPath, Issue
from epbot.domain.validation.matrix import check_matrix
from epbot.domain.validation.parsing import parse_matrix, parse_playbook, pydantic_issues
from epbot.domain.validation.playbooks import check_names, check_playbook
from epbot.domain.validation.steps import PLAN_ARTICLES, check_recipients

__all__ = [
    "PLAN_ARTICLES",
    "DataPath",
    "Issue",
    "check_matrix",
    "check_names",
    "check_playbook",
    "check_recipients",
    "parse_matrix",
    "parse_playbook",
    "pydantic_issues",
]
