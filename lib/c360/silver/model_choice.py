"""The model a silver run scores with: the version in use, a new one trained when the data has outgrown it
(or its spec changed), the churn limit a retrain of a trusted model must pass, and training itself.

Training saves a new version with its evidence (see model and retraining); a run that trains scores every
pair with the new version, so no run scores with two models. A steward's labels take part in training when
asked (`c360 train --use-labels`, or silver.linkage.train_on_labels for automatic retrains): see
label_training.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from pyspark.sql import DataFrame

from c360.errors import C360Error
from c360.pipeline import RunContext
from c360.silver import changes as changes_module, label_training, model as model_store, retraining
from c360.silver.linkage import training
from c360.silver.linkage.backends import LinkageBackend, linkage_backend
from c360.silver.linkage.keys import linkage_input
from c360.silver.linkage.labelled import Labelled
from c360.silver.linkage.spec import ModelSpec, build as build_spec, profile, splink_settings
from c360.silver.linkage.training import TrainingResult
from c360.silver.model_frequencies import model_term_frequencies
from c360.silver.tables import IDENTITY

log = logging.getLogger(__name__)


def source_records(keys: DataFrame) -> dict[str, int]:
    """Person records per source among these match keys."""
    return {r["source"]: r["count"] for r in keys.groupBy("source").count().collect()}


def train_model(ctx: RunContext, keys: DataFrame, spec: ModelSpec, backend: LinkageBackend, current: bool = True,
                why: str = "trained", counts: dict[str, int] | None = None, labels: Labelled | None = None
                ) -> tuple[model_store.ModelFile | None, TrainingResult]:
    """Train a new model version of `spec` on these match keys (a sample of `train_max_records` of them) on
    `backend` and save it with its evidence (records per source, the prior's pairs, each EM session's pairs
    and matches) and, when that evidence is thin, as provisional; with `current`, runs score with it from now
    on (a retrain the churn limit must pass first is saved with current=False). (None, result) when the
    data cannot support a model (result.problem says why). `counts`: source_records(keys), when known.
    With `labels` (see label_training), the labelled records join the sample, the labelled matches add their
    estimate of m, and the version is judged on the labelled pairs against the one in use, which may choose
    its threshold; it becomes current only once that verdict is saved with it."""
    settings = ctx.config.silver.linkage
    started = time.monotonic()
    counts = counts if counts is not None else source_records(keys)
    previous = in_use(ctx)
    sample = training.training_sample(keys, settings.train_max_records, settings.seed)
    if labels is not None:
        sample = sample.unionByName(label_training.of_records(ctx, keys, labels)).dropDuplicates(["record_key"])
    sample = sample.localCheckpoint()
    sizes = {r.source: r["count"] for r in sample.groupBy("source").count().collect()}
    linker = backend.training_linker(sample, splink_settings(spec))
    result = training.train(linker, spec, training.TrainingOptions(u_max_pairs=settings.u_max_pairs, seed=settings.seed,
                                                                em_max_pairs=settings.em_max_pairs),
                            records=sum(sizes.values()), unique_source_sizes={s: sizes.get(s, 0) for s in spec.unique_sources})
    if result.problem:
        log.warning("silver: no linkage model: %s", result.problem)
        return None, result
    if labels is not None and labels.matches >= settings.min_labels:
        training.from_labels(linker, labels, result)
    thin = retraining.provisional_reasons(result.summary(), counts, settings.min_prior_pairs)
    saved = model_store.save(model_store.model_dir(ctx.config), linker.misc.save_model_to_json(), {
        "trained_at": datetime.now(timezone.utc).isoformat(), "run_id": ctx.run_id, "why": why,
        "records": sum(sizes.values()), "of_records": sum(counts.values()), "source_records": counts,
        "seconds": round(time.monotonic() - started, 1), "backend": backend.name,
        "trained_on": linker._sql_dialect_str, "spec": spec.fingerprint(),  # noqa: SLF001
        "spec_detail": spec.describe(), "training": result.summary(),
        "provisional": bool(thin), "provisional_reasons": thin}, current=current and labels is None)
    model_term_frequencies(saved, keys)
    if labels is not None:
        saved.annotate(labels=label_training.judge(ctx, backend, spec, keys, labels, saved, previous))
        if current:
            model_store.make_current(saved, "trained")
    log.info("silver: trained model v%d in %.0fs (%s)", saved.version, time.monotonic() - started, saved.path)
    return saved, result


@dataclass
class ModelChoice:
    """The model a run scores with and why: `candidate` is a new version that becomes current only if the
    customers it moves stay within the churn limit (`fallback` is scored with otherwise); `rescore` says why
    every pair is scored again although the run is incremental; `notes` go to the run summary."""

    model: model_store.ModelFile | None
    notes: dict
    rescore: str | None = None
    candidate: bool = False
    fallback: model_store.ModelFile | None = None


def in_use(ctx: RunContext) -> model_store.ModelFile | None:
    """The model version runs score with: the pinned one (silver.linkage.model_version), else the current."""
    folder = model_store.model_dir(ctx.config)
    pinned = ctx.config.silver.linkage.model_version
    return model_store.version(folder, pinned) if pinned else model_store.latest(folder)


def train_now(ctx: RunContext, records: DataFrame, use_labels: bool
              ) -> tuple[model_store.ModelFile | None, TrainingResult, Labelled | None]:
    """`c360 train`: a new current version trained on `records` (every person record as silver holds them)
    and, with `use_labels`, on the steward's labels in force (an error when there are none); returns it
    (None when the data cannot support a model: the result says why) and the labels it took."""
    keys = linkage_input(records).localCheckpoint()
    spec = build_spec(profile(keys), ctx.config)
    labels = label_training.training_labels(ctx, records) if use_labels else None
    if use_labels and labels is None:
        raise C360Error("c360 train --use-labels: steward.labels holds no match or non-match label in force "
                        "(label pairs with `c360 review` and `c360 label` first)")
    with linkage_backend(ctx, keys) as (backend, _):
        saved, result = train_model(ctx, keys, spec, backend, labels=labels)
    return saved, result, labels


def _trained(ctx: RunContext, records: DataFrame, keys: DataFrame, spec: ModelSpec, backend: LinkageBackend,
             increment: object, why: str, current: bool, counts: dict[str, int] | None = None
             ) -> tuple[model_store.ModelFile | None, dict, str | None]:
    """A new version trained now (on the steward's labels too, as silver.linkage.train_on_labels says), its
    training notes, and why every pair is scored again."""
    labels = label_training.training_labels(ctx, records) if ctx.config.silver.linkage.train_on_labels else None
    model, result = train_model(ctx, keys, spec, backend, current=current, why=why, counts=counts, labels=labels)
    return model, {"training": result.summary()}, (why if increment is not None else None)


def _say(text: str) -> None:
    # stderr: stdout carries the run's JSON summary (scripts and jobs parse it)
    print(f"silver: WARNING {text}", file=sys.stderr)


def linkage_model(ctx: RunContext, records: DataFrame, keys: DataFrame, spec: ModelSpec, backend: LinkageBackend,
                  increment: changes_module.Increment | None, current: model_store.ModelFile | None) -> ModelChoice:
    """The model to score with. A model built for another spec is retrained (or the run stops) as
    silver.linkage.on_model_mismatch says. Otherwise the run checks whether the data has outgrown the model
    (see retraining.due) and, as silver.linkage.retrain says, trains a new version (auto), says so (warn) or
    neither (never); a pinned version (model_version) is never replaced. A run that trains scores every pair
    with the new model, so no run scores with two models."""
    settings = ctx.config.silver.linkage
    meta = current.metadata() if current is not None else None  # read once: a file of the model folder
    if meta is not None and meta.get("spec") != spec.fingerprint():
        why = (f"model v{current.version} was built for other fields or rules than the person sources and "
               f"settings now give ({', '.join(spec.describe()['fields'])})")
        if settings.on_model_mismatch == "fail" or settings.model_version:
            fix = ("unpin silver.linkage.model_version or pin a version built for them" if settings.model_version else
                   "run `c360 train` or set silver.linkage.on_model_mismatch: retrain")
            raise C360Error(f"silver: {why}; {fix}")
        _say(f"{why}; training a new version")
        return ModelChoice(*_trained(ctx, records, keys, spec, backend, increment, "the person records now give another model spec", True))
    counts = source_records(keys)
    pairs = training.allowed_pairs(sum(counts.values()), {s: counts.get(s, 0) for s in spec.unique_sources})
    reasons = retraining.due(meta, counts, pairs, settings.retrain_growth)
    notes = {"retrain": {"due": reasons, "policy": "pinned" if settings.model_version else settings.retrain,
                         "action": "none"}}
    if not reasons:
        if current is None:
            notes["training"] = {"problem": "the person records have no pair to compare yet (fewer than two records, "
                                            "or only the records of one no_duplicates source)"}
        return ModelChoice(current, notes)
    due = "; ".join(reasons)
    if settings.model_version or settings.retrain != "auto":
        notes["retrain"]["action"] = "reported" if settings.retrain != "never" or settings.model_version else "none"
        if notes["retrain"]["action"] == "reported":
            pin = f"model v{settings.model_version} is pinned" if settings.model_version else "silver.linkage.retrain is warn"
            _say(f"a retrain of the linkage model is due ({due}); {pin}, so this run keeps the model")
        return ModelChoice(current, notes)
    held = None if ctx.accept_retrain else _held_back(ctx, current, counts)
    if held is not None:
        notes["retrain"]["action"] = "held back earlier"
        _say(f"a retrain of the linkage model is due ({due}), but v{held.version} was held back by the churn limit "
             f"({held.metadata()['held_back']}); start a run with --accept-retrain to apply a retrain")
        return ModelChoice(current, notes)
    log.warning("silver: training a new linkage model version: %s", due)
    # the churn limit protects what a trusted model decided: a first or provisional model's customers are not
    protected = meta is not None and not meta.get("provisional")
    model, trained, rescore = _trained(ctx, records, keys, spec, backend, increment, f"retrain: {due}", not protected, counts)
    notes["retrain"]["action"] = "retrained" if model is not None else "failed"
    return ModelChoice(model or current, {**notes, **trained}, rescore if model is not None else None,
                       candidate=protected and model is not None, fallback=current)


def _held_back(ctx: RunContext, current: model_store.ModelFile | None, counts: dict[str, int]) -> model_store.ModelFile | None:
    """A retrain of `current` the churn limit held back, when the data has not outgrown it since: then the
    run does not train again (each try would cost a training and a full scoring) until --accept-retrain."""
    if current is None:
        return None
    later = [m for m in model_store.versions(model_store.model_dir(ctx.config)) if m.version > current.version]
    if not later or not later[-1].metadata().get("held_back"):
        return None
    meta = later[-1].metadata()
    outgrown = retraining.due({**meta, "provisional": False}, counts, 0, ctx.config.silver.linkage.retrain_growth)
    return None if outgrown else later[-1]


def within_churn(ctx: RunContext, choice: ModelChoice, result: dict, increment: changes_module.Increment | None,
                  notes: dict) -> bool:
    """Whether a candidate's result moves at most max_retrain_churn of the earlier customers (or the run was
    started with --accept-retrain); records the figures in `notes` and holds back a candidate that does not."""
    if not ctx.store.exists(IDENTITY):
        return True
    changed = increment.changed if increment is not None else None
    moved, of = retraining.moved_customers(ctx.store.read(IDENTITY), result["identity_map"], changed)
    limit = ctx.config.silver.linkage.max_retrain_churn
    share = moved / of if of else 0.0
    notes["retrain"].update(moved_customers=moved, of_customers=of, moved_share=round(share, 4), max_retrain_churn=limit)
    if share <= limit or ctx.accept_retrain:
        return True
    text = (f"it would move {moved:,} of {of:,} customers ({share:.1%}, more than silver.linkage.max_retrain_churn "
            f"= {limit:.1%})")
    choice.model.annotate(held_back=f"{text} in run {ctx.run_id}")
    notes["retrain"]["action"] = "held back"
    _say(f"the retrained model v{choice.model.version} was held back: {text}; this run keeps "
         f"{'model v%d' % choice.fallback.version if choice.fallback else 'no model'}. Start a run with --accept-retrain "
         "to apply it, or set silver.linkage.retrain: warn")
    return False


def model_line(model: model_store.ModelFile | None) -> dict | None:
    """The run summary's model: its version and whether it is provisional, and why (also said on stderr)."""
    if model is None:
        return None
    meta = model.metadata()
    line = {"version": model.version, "provisional": bool(meta.get("provisional")),
            "provisional_reasons": meta.get("provisional_reasons", []), "trained_at": meta.get("trained_at"),
            "of_records": meta.get("of_records")}
    if line["provisional"]:
        _say(f"linkage model v{model.version} is provisional: {'; '.join(line['provisional_reasons'])}")
    return line
