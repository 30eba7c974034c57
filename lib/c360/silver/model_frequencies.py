"""A model version's term frequencies, and linkers that score with them.

Each version keeps the term-frequency tables of the records it first scored beside it (see model.ModelFile),
so a pair scores the same whatever other records a run holds: an incremental run's kept pairs agree with a
full run's, and a handful of records scored again (a review queue's, a steward's labelled pairs) score as
they did in the run.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from splink import Linker

from c360.errors import C360Error
from c360.pipeline import RunContext
from c360.silver import model as model_store
from c360.silver.linkage import term_frequencies
from c360.silver.linkage.backends import LinkageBackend
from c360.silver.linkage.portable import for_dialect
from c360.silver.linkage.spec import ModelSpec


def model_term_frequencies(model: model_store.ModelFile, keys: DataFrame) -> dict[str, term_frequencies.Frequencies]:
    """The model version's term-frequency tables; counted over `keys` (every record of this run) and saved
    beside the model when it has none yet (a model trained before they were kept, or just now)."""
    stored = model.term_frequencies()
    if stored is None:
        model.save_term_frequencies([term_frequencies.count(keys, c) for c in term_frequencies.columns(model.load())])
        stored = model.term_frequencies() or {}
    return stored


def register_term_frequencies(ctx: RunContext, backend: LinkageBackend, linker: object, keys: DataFrame,
                              model: model_store.ModelFile) -> None:
    """Score with the model version's term frequencies, so a pair scores the same whatever other records
    the run holds (an incremental run's kept pairs agree with a full run's)."""
    for frequencies in model_term_frequencies(model, keys).values():
        backend.register_term_frequencies(linker, frequencies.column, term_frequencies.lookup(ctx.spark, keys, frequencies))


def scoring_linker(ctx: RunContext, backend: LinkageBackend, keys: DataFrame, spec: ModelSpec,
                   model: model_store.ModelFile, **settings: object) -> tuple[Linker, dict]:
    """A linker over a few records (`keys`) scoring with `model` and its saved term frequencies, and its
    settings (`settings` override Splink's); the model must have them (every version a run scored with does)."""
    if model.term_frequencies() is None:  # counted over a few records they would be wrong, and kept
        raise C360Error(f"model v{model.version} has no saved term frequencies: a silver run scoring with it saves them")
    rendered = {**for_dialect(model.load(), spec, backend.dialect), **settings}
    linker = backend.linker(keys, rendered)
    register_term_frequencies(ctx, backend, linker, keys, model)
    return linker, rendered
