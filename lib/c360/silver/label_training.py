"""Training with a steward's labels: which labelled pairs a training takes, how a new model version is
judged on them against the version in use, and the threshold runs score with.

Training takes the labels in force (see steward.labels.in_force: the newest label of each pair whose
records still hold the fields they were labelled on; `unsure` aside). The labelled records join the
training sample, so Splink can compare them; with at least `min_labels` labelled matches, their levels are
one more estimate of m beside EM's (see linkage.labelled). The new version then scores every labelled pair,
as does the version in use, each with its saved term frequencies: what changed on the labelled pairs is
told with the model, and with at least `min_labels` labelled matches and non-matches the labels choose the
version's threshold under `label_precision_floor`. Runs scoring with that version use it.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame

from c360.frames import local_frame
from c360.pipeline import RunContext
from c360.silver import model as model_store
from c360.silver.linkage import labelled as labelled_module
from c360.silver.linkage.backends import LinkageBackend
from c360.silver.linkage.labelled import Labelled
from c360.silver.linkage.spec import ModelSpec
from c360.silver.model_frequencies import scoring_linker
from c360.steward import labels as labels_module

log = logging.getLogger(__name__)

MIN_THRESHOLD = 0.5  # a link is at least even odds: scored pairs are kept from there (see linking.score)


def training_labels(ctx: RunContext, records: DataFrame) -> Labelled | None:
    """The labelled pairs in force for `records` (person records as the run holds them), or None without any."""
    if not ctx.store.exists(labels_module.LABELS):
        return None
    found = labels_module.in_force(ctx.store.read(labels_module.LABELS), records)
    must = [(r[0], r[1]) for r in found.must.collect()]
    cannot = [(r[0], r[1]) for r in found.cannot.collect()]
    return labelled_module.labelled(must, cannot) if must or cannot else None


def of_records(ctx: RunContext, keys: DataFrame, labels: Labelled) -> DataFrame:
    """The match keys of the labelled pairs' records."""
    wanted = local_frame(ctx.spark, [(k,) for k in labels.records()], "record_key string")
    return keys.join(wanted, "record_key", "left_semi")


def threshold(ctx: RunContext, model: model_store.ModelFile | None) -> tuple[float, str]:
    """The match probability from which a pair links when scored with `model`, and where it comes from: the
    threshold the labels chose when the version was trained, else silver.linkage.threshold."""
    chosen = ((model.metadata().get("labels") or {}).get("threshold") or {}) if model is not None else {}
    if chosen.get("from") == "labels":
        return float(chosen["probability"]), f"the steward's labels (model v{model.version})"
    return ctx.config.silver.linkage.threshold, "silver.linkage.threshold"


def _space(ctx: RunContext, backend: LinkageBackend, spec: ModelSpec, keys: DataFrame, labels: Labelled,
           model: model_store.ModelFile) -> list[dict]:
    linker, _ = scoring_linker(ctx, backend, keys, spec, model)
    return labelled_module.truth_space(linker, labels)


def judge(ctx: RunContext, backend: LinkageBackend, spec: ModelSpec, keys: DataFrame, labels: Labelled,
          model: model_store.ModelFile, previous: model_store.ModelFile | None) -> dict:
    """What the labels say of a newly trained `model`: the threshold they choose (or why the configured one
    stays), and the labelled pairs linked and missed by it at that threshold and by `previous` (the version
    in use, when built for the same fields) at its own."""
    settings = ctx.config.silver.linkage
    subset = of_records(ctx, keys, labels).localCheckpoint()
    now = _space(ctx, backend, spec, subset, labels, model)
    enough = min(labels.matches, labels.non_matches) >= settings.min_labels
    chosen = labelled_module.choose_threshold(now, settings.label_precision_floor, MIN_THRESHOLD) if enough else None
    if chosen is not None:
        chosen = {**chosen, "from": "labels"}
    why = (None if chosen else f"fewer than silver.linkage.min_labels = {settings.min_labels} labelled matches or "
           "non-matches" if not enough else "even the best-scored labelled pairs fall below "
           f"silver.linkage.label_precision_floor = {settings.label_precision_floor}")
    cut = chosen["probability"] if chosen else settings.threshold
    verdict = {"matches": labels.matches, "non_matches": labels.non_matches,
               "threshold": chosen or {"from": "config", "probability": settings.threshold, "why": why},
               "after": {"version": model.version, "threshold": cut, **labelled_module.at_threshold(now, cut)}}
    if previous is not None and previous.metadata().get("spec") == spec.fingerprint() and previous.term_frequencies():
        was, _ = threshold(ctx, previous)
        before = _space(ctx, backend, spec, subset, labels, previous)
        verdict["before"] = {"version": previous.version, "threshold": was, **labelled_module.at_threshold(before, was)}
    log.info("silver: model v%d on %d labelled pairs: %s", model.version, len(labels.pairs), verdict)
    return verdict


def describe(verdict: dict) -> list[str]:
    """The verdict as lines for a person: the threshold and the labelled pairs linked before and after."""
    chosen = verdict["threshold"]
    lines = [f"labels: {verdict['matches']} matches and {verdict['non_matches']} non-matches in force",
             (f"threshold {chosen['probability']:.4f} chosen from the labels (labelled pairs' precision "
              f"{chosen['precision']:.3f} at a floor of {chosen['precision_floor']})" if chosen["from"] == "labels" else
              f"threshold {chosen['probability']} from silver.linkage.threshold: {chosen['why']}")]
    for side in ("before", "after"):
        found = verdict.get(side)
        if found:
            lines.append(f"{side}: model v{found['version']} at {found['threshold']:.4f} links {found['tp']} of the "
                         f"{found['tp'] + found['fn']} labelled matches and {found['fp']} of the "
                         f"{found['fp'] + found['tn']} labelled non-matches")
    return lines
