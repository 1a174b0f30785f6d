"""The serving table's core (issue 32, in progress; not wired into the stack yet), on moto's DynamoDB: a reader
never sees two generations at once, unprocessed BatchWriteItem items are sent again until every line is loaded,
and a load that fails keeps serving the generation before it."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

from batchrecs.adapters.serving_table import LoadFailed, PointerMoved, ServingTable
from batchrecs.serving import load, row_of

USERS = [f"u{n}" for n in range(60)]


def output(tag: str, users: list[str] = USERS) -> list[bytes]:
    """A users job's output whose every list names its generation (``tag``), one error line among them."""
    lines = [orjson.dumps({"input": {"userId": "ghost"}, "output": None, "error": "no such user"})]
    for user in users:
        out = {"recommendedItems": [f"{tag}-{user}-{n}" for n in range(3)], "scores": [0.5, 0.3, 0.2]}
        lines.append(orjson.dumps({"input": {"userId": user}, "output": out, "error": None}))
    return lines


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="serving",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def generations(served: dict[str, list[str]]) -> set[str]:
    return {item.split("-", 1)[0] for items in served.values() for item in items}


def test_a_reader_sees_the_old_generation_or_the_new_one_never_a_mix(dynamodb: Any) -> None:
    table = ServingTable(dynamodb, "serving")
    load(table, "users", output("old"), drop_id="old", version="v1")
    gate, written = threading.Event(), threading.Event()

    def hold() -> None:
        written.set()
        assert gate.wait(30)

    loader = threading.Thread(
        target=load,
        args=(table, "users", output("new")),
        kwargs={"drop_id": "new", "version": "v2", "before_flip": hold},
    )
    loader.start()
    assert written.wait(30)  # every row of the new generation is written, and not served yet
    seen = [generations(table.get("users", USERS)) for _ in range(5)]
    assert all(g == {"old"} for g in seen), seen
    gate.set()
    loader.join(30)
    assert generations(table.get("users", USERS)) == {"new"} and len(table.get("users", USERS)) == len(USERS)


def test_unprocessed_items_are_sent_again_until_every_line_is_loaded_once(dynamodb: Any) -> None:
    rng = random.Random(4)
    calls = {"sent": 0, "refused": 0}
    real = dynamodb.batch_write_item

    def throttled(**request: Any) -> Any:  # 20% of the items of every call come back unprocessed, unwritten
        items = request["RequestItems"]["serving"]
        refused = [item for item in items if rng.random() < 0.2]
        kept = [item for item in items if item not in refused]
        calls["sent"] += len(items)
        calls["refused"] += len(refused)
        if kept:
            real(RequestItems={"serving": kept})
        return {"UnprocessedItems": {"serving": refused} if refused else {}}

    slept: list[float] = []
    table = ServingTable(dynamodb, "serving", sleep=slept.append)
    dynamodb.batch_write_item = throttled
    pointer = load(table, "users", output("g1"), drop_id="g1", version=None)
    assert calls["refused"] > 0 and slept and calls["sent"] == len(USERS) + calls["refused"]
    rows = dynamodb.scan(TableName="serving")["Items"]
    served = [row for row in rows if row["sk"]["S"] == "g1"]
    assert sorted(row["pk"]["S"] for row in served) == sorted(f"users#{u}" for u in USERS)  # each once
    assert pointer.lines == len(USERS) and table.current("users") == "g1"


def test_a_failed_load_keeps_serving_the_generation_before_it(dynamodb: Any) -> None:
    table = ServingTable(dynamodb, "serving", sleep=lambda _: None)
    load(table, "users", output("old"), drop_id="old", version=None)
    real = dynamodb.batch_write_item
    dynamodb.batch_write_item = lambda **request: {"UnprocessedItems": request["RequestItems"]}  # never accepted
    with pytest.raises(LoadFailed, match="still unprocessed"):
        load(table, "users", output("new"), drop_id="new", version=None)
    dynamodb.batch_write_item = real
    assert table.current("users") == "old" and generations(table.get("users", USERS)) == {"old"}


def test_two_loads_from_one_generation_serve_the_first_to_flip(dynamodb: Any) -> None:
    table = ServingTable(dynamodb, "serving")
    load(table, "users", output("a"), drop_id="a", version=None)
    table.write(filter(None, map(row_of, output("b"))), "b", "b", None)
    table.write(filter(None, map(row_of, output("c"))), "c", "c", None)
    table.flip("users", "b", "b", len(USERS), expected="a")
    with pytest.raises(PointerMoved):
        table.flip("users", "c", "c", len(USERS), expected="a")
    assert table.current("users") == "b"
