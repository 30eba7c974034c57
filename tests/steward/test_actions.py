"""A steward's merge, split, keep-apart and label file on a real warehouse: labels alone start an incremental
run that re-clusters only what they touch, every later run (incremental or full) honours them, a chain of
must-links across a cannot-link is reported and kept apart, and a bad file writes nothing."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from c360 import pipeline
from c360.errors import C360Error
from c360.steward import actions, labels
from tests.steward.conftest import Silvered


def _ids(store) -> dict[str, str]:  # noqa: ANN001
    return {r.record_key: r.customer_id for r in store.read("silver.identity_map").collect()}


def _members(store) -> dict[str, list[str]]:  # noqa: ANN001
    found = defaultdict(list)
    for key, customer in sorted(_ids(store).items()):
        found[customer].append(key)
    return found


def _review(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["source_l,source_record_id_l,source_r,source_record_id_r,label,note"]
    lines += [f"{a.replace(':', ',', 1)},{b.replace(':', ',', 1)},{label}," for a, b, label in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_merge_split_keep_apart_and_labels_hold_in_every_later_run(silvered: Silvered, tmp_path: Path) -> None:
    store = silvered.store

    def silver(full_refresh: bool = False) -> dict:  # gold reads silver as any run leaves it: labels act on silver
        return pipeline.run(silvered.ctx(full_refresh), "silver")["silver"]

    before = _members(store)
    several = sorted((c for c, keys in before.items() if len(keys) >= 2), key=lambda c: before[c])
    singles = sorted((c for c, keys in before.items() if len(keys) == 1), key=lambda c: before[c])
    split_off, a, b = several[0], singles[0], singles[1]
    leaving = before[split_off][0]

    assert actions.merge(silvered.ctx(), a, b, "ann") == {"labels": 1, "match": 1}
    actions.split(silvered.ctx(), split_off, [leaving], "ann", note="two people at one address")
    done = silver()
    assert done["mode"]["incremental"] is True and done["mode"]["changed_records"] == 0, done["mode"]
    assert 0 < done["records_clustered"] < done["person_records"], "labels re-cluster only what they touch"
    ids = _ids(store)
    assert ids[before[a][0]] == ids[before[b][0]], "merged"
    assert all(ids[leaving] != ids[k] for k in before[split_off][1:]), "split"
    moved = {(r.old_customer_id, r.kind) for r in store.read("silver.customer_id_redirects").collect()}
    assert {(a, "merge"), (b, "merge")} & moved and any(o == split_off and k == "split" for o, k in moved), moved
    assert done["steward"]["must_links"] >= 1 and done["steward"]["cannot_links"] >= 1

    kept = actions.keep_apart(silvered.ctx(), singles[5], several[1], "ann")
    assert kept == {"labels": len(before[several[1]]), "non-match": len(before[several[1]])}, "one per pair of records"

    x, y, z = (before[c][0] for c in singles[2:5])
    with pytest.raises(C360Error, match=r"bad.csv line 3: unknown record crm_contacts:NOBODY"):
        actions.label_file(silvered.ctx(), _review(tmp_path / "bad.csv", [(x, y, "match"), ("crm_contacts:NOBODY", z, "match")]), "ann")
    version = labels.version(store)
    actions.label_file(silvered.ctx(), _review(tmp_path / "review.csv", [(x, y, "match"), (y, z, "match"), (x, z, "non-match")]), "bo")
    assert labels.version(store) == version + 1, "one append per file"
    chained = silver()
    assert chained["steward"]["conflicts"] == [{"cannot_link": sorted([x, z]), "must_links": sorted([sorted([x, y]), sorted([y, z])])}]
    ids = _ids(store)
    assert ids[x] != ids[z] and ids[y] in (ids[x], ids[z]), "cannot-link wins over the chain"
    assert all(ids[before[singles[5]][0]] != ids[k] for k in before[several[1]]), "kept apart"
    assert silver()["status"].startswith("unchanged"), "the same labels again change nothing"

    incremental = _ids(store)
    silver(full_refresh=True)
    assert _partition(_ids(store)) == _partition(incremental), "a full refresh honours the labels the same way"


def _partition(ids: dict[str, str]) -> set[frozenset[str]]:
    groups = defaultdict(set)
    for key, customer in ids.items():
        groups[customer].add(key)
    return {frozenset(g) for g in groups.values()}
