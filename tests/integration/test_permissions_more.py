"""The other half of test_permissions.py's cases (a file of its own, so that pytest-xdist runs the halves side by
side)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_permissions import CASES, Flow, case_id, removal_test

OTHER_HALF = CASES[1::2]


@pytest.mark.parametrize(
    ("role", "sid", "action", "flow", "expected"), OTHER_HALF, ids=[case_id(c) for c in OTHER_HALF]
)
def test_a_statement_taken_out_fails_the_flow_that_needs_it(
    role: str, sid: str, action: str | None, flow: Flow, expected: str, sample: Path, tmp_path: Path
) -> None:
    removal_test(role, sid, action, flow, expected, sample, tmp_path)
