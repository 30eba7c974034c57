"""Splink's threshold selection tool and accuracy chart drawn from a steward's labels.

Every labelled pair in force is scored again with the model version in use and its saved term
frequencies; Splink's truth space of those scores (precision, recall and F1 among the labelled pairs at
every threshold) is drawn as Splink draws it from ground truth. The review queue favours hard pairs, so the
charts show the model where it is least sure; the unbiased estimates of the links' precision and recall
come from the random sample alone (see estimates).
"""

from __future__ import annotations

import os

from c360.errors import C360Error
from c360.pipeline import RunContext
from c360.silver.label_training import of_records, threshold, training_labels
from c360.silver.linkage import labelled
from c360.silver.linkage.keys import linkage_input
from c360.silver.linkage.spec import build as build_spec, profile
from c360.silver.linkage.backends import linkage_backend
from c360.silver.model_choice import in_use
from c360.silver.model_frequencies import scoring_linker
from c360.silver.tables import RECORDS


def accuracy_charts(ctx: RunContext, folder: str) -> dict:
    """Write the two charts of the labelled pairs into `folder`; returns their paths, the model version,
    the labelled pairs and their counts at the threshold runs use."""
    model = in_use(ctx)
    records = ctx.store.read(RECORDS)
    labels = training_labels(ctx, records)
    if model is None or labels is None:
        raise C360Error("c360 evaluate --labels: the charts need a linkage model and labelled pairs in force "
                        f"({'no model yet' if model is None else 'no match or non-match label in force'})")
    everyone = linkage_input(records)
    spec = build_spec(profile(everyone), ctx.config)
    keys = of_records(ctx, everyone, labels).localCheckpoint()
    with linkage_backend(ctx, keys) as (backend, _):
        linker, _ = scoring_linker(ctx, backend, keys, spec, model)
        space = labelled.truth_space(linker, labels)
    cut, since = threshold(ctx, model)
    return {"charts": labelled.write_charts(space, os.fspath(folder)), "model_version": model.version,
            "labelled_pairs": {"matches": labels.matches, "non_matches": labels.non_matches},
            "at_threshold": {"probability": cut, "from": since, **labelled.at_threshold(space, cut)}}
