"""The test suite is named after behaviour: no file named after a review or an issue number."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
NOT_A_BEHAVIOUR = re.compile(r"(_review|_issue\d*)(_|\.py$)")


def test_no_test_file_is_named_after_a_review_or_an_issue():
    wrong = sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                   if NOT_A_BEHAVIOUR.search(p.name))
    assert wrong == [], f"name these after the behaviour they test: {wrong}"


def test_the_name_rule_catches_review_and_issue_files():
    assert NOT_A_BEHAVIOUR.search("test_lca_review.py")
    assert NOT_A_BEHAVIOUR.search("test_estimate_issue13.py")
    assert NOT_A_BEHAVIOUR.search("test_issue_7_regressions.py")
    assert not NOT_A_BEHAVIOUR.search("test_lca_impact.py")
    assert not NOT_A_BEHAVIOUR.search("test_reviewer_notes_render.py")
