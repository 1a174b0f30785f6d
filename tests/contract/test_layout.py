"""template.yaml speaks of the buckets' keys in the layout's words: every prefix its notification filters,
lifecycle rules and IAM resources name is one batchrecs/layout.py makes, in the right bucket, and every prefix of
the layout is named there (a key the code writes that no rule expires and no policy grants would fail only on AWS)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from batchrecs import layout
from batchrecs_local.template import TEMPLATE, read_source

BUCKETS = {
    "InputBucket": (
        re.compile(r"(?:\$\{InputBucket\.Arn\}|-input-\$\{AWS::AccountId\})/([^/*]+/)"),
        layout.INPUT_BUCKET,
    ),
    "OutputBucket": (re.compile(r"\$\{OutputBucket\.Arn\}/([^/*]+/)"), layout.OUTPUT_BUCKET),
}


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def template_prefixes(source: dict[str, Any]) -> dict[str, set[str]]:
    """Bucket → every key prefix the template names in it."""
    found: dict[str, set[str]] = {bucket: set() for bucket in BUCKETS}
    for bucket, (pattern, _) in BUCKETS.items():
        for text in strings(source["Resources"]):
            found[bucket] |= set(pattern.findall(text))
        properties = source["Resources"][bucket]["Properties"]
        for configuration in properties.get("NotificationConfiguration", {}).get("LambdaConfigurations", []):
            rules = configuration["Filter"]["S3Key"]["Rules"]
            found[bucket] |= {rule["Value"] for rule in rules if rule["Name"] == "prefix"}
        for rule in properties.get("LifecycleConfiguration", {}).get("Rules", []):
            if "Prefix" in rule:
                found[bucket].add(rule["Prefix"])
    return found


def mismatches(source: dict[str, Any]) -> list[str]:
    problems = []
    for bucket, named in template_prefixes(source).items():
        made = BUCKETS[bucket][1]
        problems += [f"{bucket}: template.yaml names {p}, which batchrecs.layout does not make" for p in named - made]
        problems += [f"{bucket}: batchrecs.layout makes {p}, which template.yaml never names" for p in made - named]
    return sorted(problems)


def test_the_template_names_the_layouts_prefixes_and_only_them() -> None:
    assert mismatches(read_source(TEMPLATE)) == []


def test_a_planted_mismatch_is_named() -> None:
    # Given the template with the shards' lifecycle rule pointing at a prefix the code never writes
    source = copy.deepcopy(read_source(TEMPLATE))
    rules = source["Resources"]["OutputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (shards,) = [rule for rule in rules if rule.get("Prefix") == layout.SHARDS]
    shards["Prefix"] = "shard/"
    # Then the mismatch is named
    assert mismatches(source) == ["OutputBucket: template.yaml names shard/, which batchrecs.layout does not make"]


def test_a_prefix_of_the_layout_the_template_never_names_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a layout that makes keys under a prefix no rule or policy of the template names
    pattern, made = BUCKETS["InputBucket"]
    monkeypatch.setitem(BUCKETS, "InputBucket", (pattern, made | {"exports/"}))
    # Then it is named
    assert mismatches(read_source(TEMPLATE)) == [
        "InputBucket: batchrecs.layout makes exports/, which template.yaml never names"
    ]


def test_the_layout_makes_each_key_under_its_prefix() -> None:
    assert layout.snapshot_folder("br-d", 2) == "snapshots/br-d/job-002/"
    assert layout.output_key(layout.output_folder("br-d", "br-j", alone=False), "snapshots/br-d/a.jsonl") == (
        "output/br-d/br-j/a.jsonl.out"
    )
    assert layout.output_folder("br-d", "br-d", alone=True) == "output/br-d/"
    assert layout.shard_key(layout.shard_folder("br-j"), 7) == "shards/br-j/00007.out"
    assert layout.manifest_key("br-d", "drop") == "manifests/br-d/drop.json"
    assert layout.report_key("input/a.jsonl", "v1") == "rejected/input/a.jsonl.v1.report.json"
    assert layout.model_of(layout.interactions_key("default")) == "default"
    assert layout.model_of("models/default/other.csv") is None
    assert layout.latest_key("default") == "models/default/latest.json"
