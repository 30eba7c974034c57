"""The clustering seam: where records are grouped into people.

Two engines run one algorithm: Spark (any size, on a cluster) and the driver (numpy over Arrow arrays, when
the edges fit in its memory: many times faster, since each round is a few sorts instead of a dozen Spark
jobs). Both take and return Spark DataFrames and give the same clusters; the contract tests run on each.

The algorithm: connected components of the deterministic links; then rounds of mutual best links over the
scored pairs, where two clusters merge only when each is the other's best partner, that partner beats the
next-best one that may be someone else by a margin, and they do not contradict each other (birth dates, a
no-duplicates source, namesake handles); then oversized clusters are split along their strongest links.
A cluster's label is always its smallest record key. Beside the clusters comes the graph they were read
from (the deterministic links and the scored pairs from the weakest link any rule reads) as its connected
components, so an incremental run finds the part of the graph a change can reach by key (see scope).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

PAIR = ("record_key_l", "record_key_r")


@dataclass(frozen=True)
class ClusterRules:
    """How clusters grow: links from `min_weight` (log2 odds) merge, a best partner must beat every rival by
    `margin`, links from `related_weight` only decide who is no rival, clusters above `max_size` are split."""

    min_weight: float
    margin: float
    max_size: int
    max_rounds: int = 30
    related_weight: float = 0.0

    @property
    def weakest_link(self) -> float:
        """The lowest match weight any rule reads: weaker scored pairs play no part."""
        return min(self.min_weight, self.related_weight)


@dataclass
class Clusters:
    """(record_key, component) for every record, the rounds of mutual best links, one row per split cluster,
    and `graph`: (record_key, component) of the connected components of every edge clustering read."""

    components: DataFrame
    rounds: int
    oversized: list[dict] = field(default_factory=list)
    graph: DataFrame | None = None


class Clusterer(ABC):
    """One clustering engine."""

    name: str

    @abstractmethod
    def connected_components(self, nodes: DataFrame, edges: DataFrame) -> DataFrame:
        """(record_key, component) for every node; `component` is the smallest record key of its component
        along `edges` (record_key_l, record_key_r)."""

    @abstractmethod
    def best_link_clusters(self, components: DataFrame, scored: DataFrame, min_weight: float, margin: float,
                           guards: DataFrame | None = None, max_rounds: int = 30,
                           related_weight: float = 0.0) -> tuple[DataFrame, int]:
        """Grow `components` (record_key, component) by mutual best links over `scored` (record_key_l,
        record_key_r, match_weight); `guards` (record_key, date_of_birth, unique_source, handle_key,
        handle_digits; any may be missing) veto merges. Returns the components and the rounds it took."""

    @abstractmethod
    def split_oversized(self, components: DataFrame, edges: DataFrame, max_size: int) -> tuple[DataFrame, list[dict]]:
        """Split clusters above `max_size` along their strongest `edges` (record_key_l, record_key_r,
        strength); returns the components and one report row per split cluster."""

    def cluster(self, nodes: DataFrame, exact: DataFrame, scored: DataFrame, strength: DataFrame,
                guards: DataFrame | None, rules: ClusterRules) -> Clusters:
        """The whole algorithm: components of `exact`, mutual best links over `scored`, oversized clusters
        split along `strength`; and the components of the graph of `exact` and `scored` from the weakest link."""
        start = self.connected_components(nodes, exact)
        grown, rounds = self.best_link_clusters(start, scored, rules.min_weight, rules.margin, guards,
                                                rules.max_rounds, rules.related_weight)
        components, oversized = self.split_oversized(grown, strength, rules.max_size)
        read = exact.select(*PAIR).unionByName(scored.where(F.col("match_weight") >= rules.weakest_link).select(*PAIR))
        return Clusters(components, rounds, oversized, self.connected_components(nodes, read))
