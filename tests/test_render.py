"""The preview table: a Pulumi type token is broken only between its parts, never inside a name."""

from __future__ import annotations

from typing import Any

import pytest

from mbops.cli.render import TYPE_PARTS, break_type, print_plan

LONG = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


def _res(urn: str, type_token: str, parent: str | None = None) -> dict[str, Any]:
    return {"urn": urn, "type": type_token, "name": urn, "parent": parent, "custom": parent is not None,
            "op": "create"}  # fmt: skip


def test_break_type_splits_after_colons_and_slashes_only():
    assert break_type(LONG, 200) == LONG
    two = "aws:s3/bucketServerSideEncryptionConfiguration:\nBucketServerSideEncryptionConfiguration"
    assert break_type(LONG, 60) == two
    assert break_type(LONG, 10).splitlines() == ["aws:s3/", "bucketServerSideEncryptionConfiguration:",
                                                  "BucketServerSideEncryptionConfiguration"]  # fmt: skip


@pytest.mark.parametrize("columns", ["120", "100", "200"])
def test_the_preview_table_never_folds_a_type_mid_word(columns, monkeypatch, capsys):
    """Issue: `BucketServerSideEncryptionConfigurati` / `on` on two rows of the type column."""
    monkeypatch.setenv("COLUMNS", columns)
    parent = "managed-dev-files"
    graph = {
        "stack": "managed-dev", "profile": "managed", "cloud": "aws", "region": "us-east-1", "environment": "dev",
        "resources": [
            _res(parent, "mbops:aws:Storage"),
            _res("managed-dev-files-encryption-with-a-long-name", LONG, parent),
            _res("managed-dev-db-role-fn", "aws:lambda/function:Function", parent),
        ],
        "policy": [], "summary": {"create": 2},
    }  # fmt: skip
    print_plan(graph)
    text = capsys.readouterr().out
    for res in graph["resources"]:
        for part in TYPE_PARTS.findall(res["type"]):
            assert part in text, f"{part!r} of {res['type']} was folded:\n{text}"
    assert max(len(line) for line in text.splitlines()) <= max(int(columns), 120)
