"""The bronze stage: ingest every file-based source of the config; report per source."""

from __future__ import annotations

import logging

from c360 import progress
from c360.bronze.ingest import ingest_source
from c360.bronze.ledger import known_files
from c360.pipeline import RunContext, register
from c360.timing import Stopwatch

log = logging.getLogger(__name__)


@register("bronze")
def run_bronze(ctx: RunContext) -> dict:
    """Ingest all sources; a source that fails is reported and the others still land."""
    sources = {}
    failed = []
    watch = Stopwatch()
    progress.expect([f"source {s.name}" for s in ctx.config.sources])
    known = known_files(ctx.store, [s.name for s in ctx.config.sources if s.format != "jdbc"])
    for source in ctx.config.sources:
        with watch.step(f"source {source.name}"):
            result = ingest_source(ctx, source, known=known.get(source.name))
        sources[source.name] = result.summary()
        log.info("bronze: %s %s: %d new and %d changed files, %d records written, %d quarantined", source.name,
                 result.status, result.files_new, result.files_changed, result.written, sum(result.quarantined.values()))
        if result.error:
            failed.append(result.error)
    summary = {"sources": sources, "seconds_per_step": watch.seconds}
    return {**summary, "failed": failed} if failed else summary
