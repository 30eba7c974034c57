"""The review queue: each kind on a small warehouse, links that alone hold a customer together, the guard
that vetoed a pair, and the offline page that turns clicks into a label file `c360 label` accepts."""

from __future__ import annotations

import csv
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from c360.frames import local_frame
from c360.steward import actions, labels, review
from c360.steward.labels import Label
from tests.browser import offline_chromium, open_page
from tests.steward.conftest import Silvered

LINKS = "record_key_l string, record_key_r string, match_probability double, match_weight double, " \
        "first_names_conflict boolean, customer_id_l string, customer_id_r string"


def test_a_link_that_alone_joins_two_parts_of_a_customer_is_a_bridge(spark: SparkSession) -> None:
    rows = [("a", "b", 1.0, None, False, "C1", "C1"), ("b", "c", 1.0, None, False, "C1", "C1"),
            ("c", "d", 0.99, 9.0, False, "C1", "C1"), ("d", "e", 1.0, None, False, "C1", "C1"),
            ("e", "c", 1.0, None, False, "C1", "C1"), ("x", "y", 1.0, None, False, "C2", "C2")]
    links = local_frame(spark, rows, LINKS)
    inputs = review.Inputs(links.limit(0), links, links.limit(0), 0.9, None, None)
    found = [(r.record_key_l, r.record_key_r, r.reason) for r in review.bridges(inputs, 5).collect()]
    assert found == [("b", "c", "joins parts of 2 and 3 records")], "c-d is in a cycle; a-b leaves one record alone"


def test_a_vetoed_pair_names_the_guard_that_kept_it_apart() -> None:
    rows = [{"record_key_l": "loyalty:1", "record_key_r": "loyalty:2"}, {"record_key_l": "crm:1", "record_key_r": "shop:1"},
            {"record_key_l": "crm:2", "record_key_r": "shop:2"}, {"record_key_l": "crm:3", "record_key_r": "shop:3"}]
    guards = {"crm:1": {"date_of_birth": date(1980, 1, 2)}, "shop:1": {"date_of_birth": date(1991, 7, 9)},
              "crm:2": {"handle_key": "anna", "handle_digits": "1"}, "shop:2": {"handle_key": "anna", "handle_digits": "2"},
              "crm:3": {"date_of_birth": date(1980, 1, 2)}, "shop:3": {"date_of_birth": date(1980, 2, 1)}}
    reasons = review.guard_reasons(rows, guards, {"loyalty"})
    assert reasons[:3] == ["guard: loyalty holds no duplicates", "guard: birth dates too far apart",
                           "guard: namesake social handles"]
    assert reasons[3].startswith("a rival link"), "day and month swapped is no veto"


@pytest.mark.slow
def test_every_kind_of_queue_and_the_page_that_labels_it(silvered: Silvered, tmp_path: Path, spark: SparkSession) -> None:
    config, store, ctx = silvered.config, silvered.store, silvered.ctx()
    identity = {r.record_key: r.customer_id for r in store.read("silver.identity_map").collect()}
    scored = store.read("silver.scored_pairs").collect()
    labelled = scored[0]
    store.append(labels.rows(spark, [Label.of(labelled.record_key_l, labelled.record_key_r, "match")],
                             {labelled.record_key_l: "as it was", labelled.record_key_r: "as it was"}, "review", "ann",
                             "old.csv", datetime.now(timezone.utc)), labels.LABELS)

    queue = review.build(ctx, review.KINDS, 25)
    rows = [r.asDict() for r in queue.collect()]
    kinds = {k: [r for r in rows if r["kind"] == k] for k in review.KINDS}
    assert [(r["source_l"], r["source_record_id_l"]) for r in kinds["stale"]] == [tuple(labelled.record_key_l.split(":", 1))]
    assert kinds["uncertain"] and all(r["levels"] for r in kinds["uncertain"]), "each scored pair says its comparison levels"
    threshold = config.silver.linkage.threshold
    queued = {(f"{r['source_l']}:{r['source_record_id_l']}", f"{r['source_r']}:{r['source_record_id_r']}")
              for r in kinds["uncertain"]}
    near = [abs(r["match_probability"] - threshold) for r in kinds["uncertain"]]
    rest = [abs(s.match_probability - threshold) for s in scored[1:] if (s.record_key_l, s.record_key_r) not in queued]
    assert near == sorted(near) and max(near) <= min(rest, default=1.0), "the nearest to the threshold, the labelled pair left out"
    for r in kinds["vetoed"]:
        assert r["match_probability"] >= config.silver.linkage.threshold and r["customer_id_l"] != r["customer_id_r"] and r["reason"]
    strata = {r["stratum"] for r in kinds["random"]}
    assert strata == {"link", "non-link"} and all(r["weight"] >= 1 for r in kinds["random"])
    links_inside = sum(1 for p in store.read("silver.match_pairs").collect() if identity[p.record_key_l] == identity[p.record_key_r])
    assert sum(r["weight"] for r in kinds["random"] if r["stratum"] == "link") == pytest.approx(links_inside)
    assert all(r["label"] == "" and r["first_name_l"] is not None for r in rows if r["kind"] != "stale")

    out, html = tmp_path / "queue.csv", tmp_path / "queue.html"
    assert review.write(queue, out, html) == len(rows)
    chrome = next(browser := offline_chromium())
    try:
        errors, failed = open_page(chrome, html, "return document.readyState === 'complete'")
        assert errors == [] and failed == []
        chrome.find_elements("css selector", 'button[data-label="non-match"]')[1].click()
        chrome.find_elements("css selector", 'button[data-label="match"]')[2].click()
        assert "2 of" in chrome.find_element("id", "count").text
        text = chrome.execute_script(  # what the download button builds, read back from the page's own code
            "const q = JSON.parse(document.getElementById('queue').textContent);"
            "return q.columns.join(',') + '|' + labels.filter(Boolean).join(',');")
        assert text.startswith(",".join(queue.columns)) and text.endswith("|non-match,match")
    finally:
        browser.close()

    with out.open(newline="", encoding="utf-8") as handle:
        filled = list(csv.DictReader(handle))
    for row in filled:
        row["label"] = "match" if row["kind"] == "random" and row["stratum"] == "link" else ""
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=queue.columns)
        writer.writeheader()
        writer.writerows(filled)
    done = actions.label_file(ctx, out, "ann")
    kept = store.read(labels.LABELS).where("queue = 'random'").collect()
    assert done["labels"] == len(kept) > 0 and all(r.stratum == "link" and r.weight >= 1 for r in kept)
