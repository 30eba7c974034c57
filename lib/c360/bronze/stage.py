"""The bronze stage: ingest every file-based source of the config; report per source."""

from __future__ import annotations

from c360.bronze.ingest import ingest_source
from c360.pipeline import RunContext, register


@register("bronze")
def run_bronze(ctx: RunContext) -> dict:
    """Ingest all sources; a source that fails is reported and the others still land."""
    sources = {}
    failed = []
    for source in ctx.config.sources:
        result = ingest_source(ctx, source)
        sources[source.name] = result.summary()
        if result.error:
            failed.append(result.error)
    return {"sources": sources, "failed": failed} if failed else {"sources": sources}
