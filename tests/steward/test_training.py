"""Training on a steward's labels: `c360 train --use-labels` takes the labelled matches into m, judges the new
version on the labelled pairs against the one in use, lets the labels choose its threshold, and the next run
links at that threshold; `c360 evaluate --labels` draws Splink's threshold and accuracy charts from them."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import pytest
import yaml

from c360 import pipeline
from c360.cli import main
from c360.config import parse_config
from c360.session import EngineChoice
from c360.silver import model as model_store
from c360.steward import actions
from c360.steward.labels import Label
from tests.steward.conftest import Silvered


def _truth(landing: Path) -> dict[str, str]:
    """record_key -> the true person."""
    rows = (landing / "truth" / "person_records_b01.csv").read_text().splitlines()[1:]
    return {f"{source}:{record}": person for source, record, person, _ in (r.split(",") for r in rows)}


def _label_from_truth(silvered: Silvered, truth: dict[str, str]) -> tuple[int, int]:
    """A steward who labels rightly every scored pair, every pair of one true person's records, and every pair
    of two people's records sharing a first name, a surname, a birth date or a postcode."""
    store = silvered.store
    records = store.read("silver.person_records").select(
        "record_key", "first_name_key", "last_name_key", "date_of_birth", "postcode_key").collect()
    groups = defaultdict(list)
    for r in records:
        if r.record_key in truth:
            groups[("person", truth[r.record_key])].append(r.record_key)
            for field in ("first_name_key", "last_name_key", "date_of_birth", "postcode_key"):
                groups[(field, r[field])].append(r.record_key)
    pairs = {(a, b) for (kind, value), keys in groups.items() if value is not None
             for a, b in combinations(sorted(keys), 2)}
    pairs |= {tuple(sorted((r.record_key_l, r.record_key_r))) for r in store.read("silver.scored_pairs").collect()
              if r.record_key_l in truth and r.record_key_r in truth}
    labels = [Label.of(a, b, "match" if truth[a] == truth[b] else "non-match") for a, b in sorted(pairs)]
    actions.record(silvered.ctx(), labels, actions.REVIEW, "ann", "truth.csv")
    matches = sum(1 for label in labels if label.label == "match")
    return matches, len(labels) - matches


def _config_file(silvered: Silvered, template: Silvered, path: Path) -> Path:
    doc = yaml.safe_load((Path(template.config.warehouse).parent / "c360.yaml").read_text())
    doc["warehouse"] = silvered.config.warehouse
    doc["silver"]["linkage"]["min_labels"] = 3
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.slow
def test_a_model_trained_on_labels_is_judged_on_them_and_links_at_their_threshold(
        silvered: Silvered, silvered_template: Silvered, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    matches, non_matches = _label_from_truth(silvered, _truth(Path(silvered_template.config.warehouse).parent / "landing"))
    assert matches >= 3 and non_matches >= 3
    config = _config_file(silvered, silvered_template, tmp_path / "c360.yaml")
    folder = model_store.model_dir(silvered.config)
    first = model_store.latest(folder).version

    assert main(["train", "--config", str(config), "--use-labels"]) == 0
    out = capsys.readouterr().out
    model = model_store.latest(folder)
    meta = model.metadata()
    assert model.version == first + 1 and meta["training"]["labels"] == {"m_from_matches": matches}
    verdict = meta["labels"]
    assert (verdict["matches"], verdict["non_matches"]) == (matches, non_matches)
    assert verdict["before"]["version"] == first and verdict["after"]["version"] == model.version
    for side in ("before", "after"):
        assert verdict[side]["tp"] + verdict[side]["fn"] == matches
        assert verdict[side]["fp"] + verdict[side]["tn"] == non_matches
    chosen = verdict["threshold"]
    assert chosen["from"] == "labels" and chosen["precision"] >= 0.99 and 0.5 <= chosen["probability"] < 1, chosen
    assert verdict["after"]["threshold"] == chosen["probability"]
    assert f"before: model v{first} at {verdict['before']['threshold']:.4f} links {verdict['before']['tp']} of the {matches}" in out
    levels = [lvl for c in json.loads(Path(model.path).read_text())["comparisons"] for lvl in c["comparison_levels"]]
    assert any(lvl.get("m_probability") for lvl in levels)

    done = pipeline.run(silvered.ctx(), "silver")["silver"]
    assert done["model_version"] == model.version
    assert done["threshold"] == {"probability": chosen["probability"], "from": f"the steward's labels (model v{model.version})"}

    # an automatic retrain (here: the blocking rules changed, so the model no longer fits) takes them too
    doc = yaml.safe_load(config.read_text())
    doc["silver"]["linkage"]["blocking_rules"] = [["last_name_key", "date_of_birth"], ["email_key"],
                                                  ["first_name_key", "last_name_key"]]
    config.write_text(yaml.safe_dump(doc))
    ctx = pipeline.RunContext(parse_config(doc, config), silvered.spark, silvered.store,
                              EngineChoice("delta-rs", "test"), pipeline.new_run_id())
    rerun = pipeline.run(ctx, "silver")["silver"]
    retrained = model_store.latest(folder)
    assert retrained.version == model.version + 1 == rerun["model_version"]
    assert retrained.metadata()["labels"]["matches"] == matches
    assert retrained.metadata()["training"]["labels"] == {"m_from_matches": matches}

    charts = tmp_path / "charts"
    assert main(["evaluate", "--config", str(config), "--labels", "--charts", str(charts)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["accuracy"]["labelled_pairs"] == {"matches": matches, "non_matches": non_matches}
    for name in ("threshold_selection.html", "accuracy.html"):
        page = (charts / name).read_text()
        assert "vega" in page and '<script src="http' not in page, name
