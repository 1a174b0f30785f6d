"""Every payload in events/ parses as the model its function's handler parses: `sam local invoke -e` never hands
a function something the deployed trigger could not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, S3Model
from pydantic import BaseModel

from batchrecs.execution import ExecutionInput
from batchrecs.scoring import MergeRequest, ScoreInvocation
from tests.conftest import EVENTS, load_event

MODELS: dict[str, type[BaseModel]] = {
    "submit-": S3Model,
    "train-": S3Model,
    "score-": ScoreInvocation,
    "merge-": MergeRequest,
    "create-": ExecutionInput,
    "outcome-": EventBridgeModel,
}


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda path: path.name)
def test_each_payload_is_what_its_function_parses(path: Path) -> None:
    (model,) = [model for prefix, model in MODELS.items() if path.name.startswith(prefix)]
    model.model_validate(load_event(path.name))


@pytest.mark.parametrize(("prefix", "model"), MODELS.items())
def test_each_handler_parses_that_model(prefix: str, model: type[BaseModel]) -> None:
    source = (EVENTS.parent / "functions" / prefix.rstrip("-") / "app.py").read_text()
    assert re.search(rf"@event_parser\(model={model.__name__}\b", source), (prefix, model.__name__)


@pytest.mark.parametrize("function", ["submit", "train", "score", "create", "outcome", "merge"])
def test_each_handler_has_a_reset(function: str) -> None:
    """The local stack resets a handler before each invocation through this one interface, never by poking at
    what the module happens to cache."""
    source = (EVENTS.parent / "functions" / function / "app.py").read_text()
    assert re.search(r"^def reset\(\) -> None:", source, re.M), function
