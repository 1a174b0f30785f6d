"""Model drops have events: models/<name>/interactions.csv ends in Model Trained, or in Model Rejected (with the
line and what a drop must be) when it cannot train; what TrainFunction writes under models/ itself ends in nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batchrecs.events import DETAIL_TYPES, ModelRejected, ModelTrained
from batchrecs_local.stack import EventTap, LocalStack

MODEL_EVENTS = {"Model Trained", "Model Rejected"}


def ended(tap: EventTap, count: int = 1) -> list[dict[str, Any]]:
    events = tap.collect(lambda es: sum(e["detail-type"] in MODEL_EVENTS for e in es) >= count, timeout=120)
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    return [e for e in events if e["detail-type"] in MODEL_EVENTS]


def test_an_interactions_csv_ends_in_model_trained_and_the_versions_own_files_in_nothing(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    stack.drop((sample / "interactions.csv").read_bytes(), "models/movies/interactions.csv")
    (event,) = ended(tap)
    trained = ModelTrained.model_validate(event["detail"])
    assert (event["detail-type"], trained.model, trained.created) == ("Model Trained", "movies", True)
    assert trained.algorithm == "ease" and trained.users > 0 and trained.items > 0 and trained.interactions > 0
    assert trained.validation_ndcg10 is not None and 0 < trained.validation_ndcg10 <= 1
    assert trained.model_key == f"models/movies/{trained.version}/model.npz"
    # The version's model.npz, metadata.json and latest.json make no event
    stack.wait_for_deliveries()
    assert [e["detail-type"] for e in tap.drain() if e["detail-type"] in MODEL_EVENTS] == []


def test_a_tab_separated_file_trains_and_a_headerless_one_is_rejected_with_the_fix(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    csv = (sample / "interactions.csv").read_text().splitlines()
    tsv = "\n".join(line.replace(",", "\t") for line in csv) + "\n"  # MovieLens writes tabs
    stack.drop(tsv.encode(), "models/tabs/interactions.csv")
    (event,) = ended(tap)
    assert event["detail-type"] == "Model Trained" and event["detail"]["model"] == "tabs"
    headerless = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"  # MovieLens-100K's u.data, as it comes
    stack.drop(headerless.encode(), "models/raw/interactions.csv")
    (event,) = ended(tap)
    rejected = ModelRejected.model_validate(event["detail"])
    assert (event["detail-type"], rejected.model, rejected.line) == ("Model Rejected", "raw", 1)
    assert "no header" in rejected.reason and "USER_ID\tITEM_ID\tRATING\tTIMESTAMP" in rejected.reason
    assert "USER_ID and ITEM_ID" in rejected.expected


def test_a_file_of_another_name_under_models_is_rejected_naming_the_expected_one(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    """MovieLens' u.data dropped as it comes, and an interactions file dropped beside the model folders: each gets
    its Model Rejected, naming the key that trains."""
    body = (sample / "interactions.csv").read_bytes()
    stack.drop(body, "models/movies/u.data")
    (event,) = ended(tap)
    rejected = ModelRejected.model_validate(event["detail"])
    assert (event["detail-type"], rejected.model, rejected.line) == ("Model Rejected", "movies", None)
    assert "models/movies/interactions.csv" in rejected.reason and rejected.input.key == "models/movies/u.data"
    stack.drop(body, "models/interactions.csv")
    (event,) = ended(tap)
    assert event["detail-type"] == "Model Rejected" and event["detail"]["model"] is None
    assert "models/<name>/interactions.csv" in event["detail"]["reason"]


def test_train_functions_role_publishes_model_events_and_no_others(stack: LocalStack) -> None:
    """TrainFunction's role passes the bus's policy (it publishes the stack's source), so its own policy holds it
    to the model events: a Job Failed from it is refused by IAM."""
    import json

    import pytest
    from botocore.exceptions import ClientError

    def entry(detail_type: str) -> dict[str, str]:
        source = stack.template.parameters["EventSource"]
        return {
            "Source": source,
            "DetailType": detail_type,
            "Detail": json.dumps({}),
            "EventBusName": stack.name("EventBus"),
        }

    events = stack.client_as("TrainFunction", "events")
    with pytest.raises(ClientError, match="AccessDenied"):
        events.put_events(Entries=[entry("Job Failed")])
    assert events.put_events(Entries=[entry("Model Rejected")])["FailedEntryCount"] == 0
