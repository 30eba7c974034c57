"""The driver clustering engine: the Spark engine's algorithm over numpy arrays, for edges that fit in memory.

Record keys become integers in their sort order, so "the smallest key" is "the smallest integer" and a
cluster's label stays its smallest record key, as on Spark. Edges, guards and labels come over once as Arrow
arrays; each round of mutual best links is a few sorts and gathers over the edges between clusters, where
Spark runs a dozen jobs. Components of the deterministic links come from scipy. The result goes back to
Spark as a Parquet file (local master) or an Arrow table (cluster).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as graph_components

from c360.checkpoint import checkpoint
from c360.silver.clustering.base import Clusterer, ClusterRules, Clusters
from c360.silver.clustering.pieces import split_pieces

log = logging.getLogger(__name__)
NONE = -1  # an absent guard value or an unknown key


class _Keys:
    """Every record key and cluster label of one clustering, numbered in sort order (Spark's string order:
    UTF-8 bytes)."""

    def __init__(self, *columns: pa.ChunkedArray) -> None:
        chunks = [c.cast(pa.large_string()) for column in columns for c in column.chunks]
        unique = pc.unique(pa.chunked_array(chunks, type=pa.large_string()).drop_null())
        self.values = unique.take(pc.sort_indices(unique))

    def __len__(self) -> int:
        return len(self.values)

    def ids(self, column: pa.ChunkedArray) -> np.ndarray:
        """The number of each value (NONE where unknown or null)."""
        found = pc.index_in(column.cast(pa.large_string()), value_set=self.values)
        return found.fill_null(NONE).to_numpy().astype(np.int64)

    def strings(self, ids: np.ndarray) -> pa.Array:
        return self.values.take(pa.array(ids))


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Dense integer codes of a string column (NONE for null)."""
    encoded = column.cast(pa.large_string()).combine_chunks().dictionary_encode()
    return encoded.indices.fill_null(NONE).to_numpy(zero_copy_only=False).astype(np.int64)


@dataclass
class _Guards:
    """Per record (its position): birth date as yyyymmdd, no-duplicates source, handle (letters and digits
    together; `handle_letters` of each handle code), NONE where absent."""

    dob: np.ndarray
    unique_source: np.ndarray
    handle: np.ndarray
    handle_letters: np.ndarray

    @classmethod
    def of(cls, guards: pa.Table, position: np.ndarray, size: int) -> _Guards:
        """`guards` of `size` records; `position`: each guard row's record position (NONE: not a record)."""
        rows = position >= 0
        out = {name: np.full(size, NONE, dtype=np.int64) for name in ("dob", "unique_source", "handle")}
        if "date_of_birth" in guards.column_names:
            born = guards["date_of_birth"]
            yyyymmdd = pc.add(pc.add(pc.multiply(pc.year(born), 10000), pc.multiply(pc.month(born), 100)), pc.day(born))
            out["dob"][position[rows]] = yyyymmdd.fill_null(NONE).to_numpy()[rows]
        if "unique_source" in guards.column_names:
            out["unique_source"][position[rows]] = _codes(guards["unique_source"])[rows]
        letters = np.zeros(0, dtype=np.int64)
        if "handle_digits" in guards.column_names and "handle_key" in guards.column_names:
            numbered = pc.if_else(pc.is_null(guards["handle_digits"]), None,
                                  pc.binary_join_element_wise(guards["handle_key"], guards["handle_digits"], "#"))
            handle = _codes(numbered)
            out["handle"][position[rows]] = handle[rows]
            letters = np.full(int(handle.max()) + 1 if len(handle) else 0, NONE, dtype=np.int64)
            letters[handle[handle >= 0]] = _codes(guards["handle_key"])[handle >= 0]
        return cls(out["dob"], out["unique_source"], out["handle"], letters)


class _Facts:
    """One kind of fact per cluster (its birth dates, sources or handles): sorted distinct (cluster, value)."""

    def __init__(self, clusters: np.ndarray, values: np.ndarray) -> None:
        known = values >= 0
        span = int(values.max()) + 1 if known.any() else 1
        both = np.unique(clusters[known] * span + values[known])
        self.cluster, self.value = both // span, both % span

    def has(self, clusters: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.cluster, clusters, "right") > np.searchsorted(self.cluster, clusters, "left")

    def any_pair(self, x: np.ndarray, y: np.ndarray, test: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """Per pair (x[i], y[i]): does some value of x's and some of y's pass `test`? (False when one has none.)"""
        start_x = np.searchsorted(self.cluster, x, "left")
        count_x = np.searchsorted(self.cluster, x, "right") - start_x
        start_y = np.searchsorted(self.cluster, y, "left")
        count_y = np.searchsorted(self.cluster, y, "right") - start_y
        per = count_x * count_y
        hit = np.zeros(len(x), dtype=bool)
        todo = np.flatnonzero(per)
        if not len(todo):
            return hit
        reps = per[todo]
        pair = np.repeat(todo, reps)
        within = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        vx = self.value[start_x[pair] + within // count_y[pair]]
        vy = self.value[start_y[pair] + within % count_y[pair]]
        hit[pair[test(vx, vy)]] = True
        return hit


def _digits(dates: np.ndarray) -> np.ndarray:
    return np.stack([(dates // 10 ** (7 - k)) % 10 for k in range(8)], axis=1)


def _levenshtein(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Edit distances of rows of equal-width digit arrays (one dynamic programme, vectorised over the rows)."""
    width = x.shape[1]
    previous = np.tile(np.arange(width + 1), (len(x), 1))
    for i in range(1, width + 1):
        current = np.empty_like(previous)
        current[:, 0] = i
        for j in range(1, width + 1):
            cost = (x[:, i - 1] != y[:, j - 1]).astype(previous.dtype)
            current[:, j] = np.minimum(np.minimum(previous[:, j] + 1, current[:, j - 1] + 1), previous[:, j - 1] + cost)
        previous = current
    return previous[:, width]


def dates_compatible(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The Spark engine's dates_compatible over yyyymmdd integers: equal, one digit off, two digits
    transposed (edit distance 2 over the same digits), or day and month swapped."""
    dx, dy = _digits(x), _digits(y)
    ok = (dx != dy).sum(axis=1) <= 1  # equal width: an edit distance of 1 is one substitution
    ok |= (x // 10000 == y // 10000) & ((x // 100) % 100 == y % 100) & (x % 100 == (y // 100) % 100)
    maybe = ~ok & (np.sort(dx, axis=1) == np.sort(dy, axis=1)).all(axis=1)
    if maybe.any():
        ok[maybe] = _levenshtein(dx[maybe], dy[maybe]) == 2
    return ok


class _Round:
    """One round of mutual best links over the current labels (see the Spark engine's best_link_clusters)."""

    def __init__(self, labels: np.ndarray, universe: int, guards: _Guards | None) -> None:
        self.universe = universe
        self.guards = guards
        if guards is not None:
            self.dates = _Facts(labels, guards.dob)
            self.sources = _Facts(labels, guards.unique_source)
            self.handles = _Facts(labels, guards.handle)

    def cluster_pairs(self, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct cluster pairs both ways (as a * universe + b, sorted) with their strongest weight."""
        key = np.concatenate([a * self.universe + b, b * self.universe + a])
        weight = np.concatenate([w, w])
        order = np.argsort(key, kind="stable")
        key, weight = key[order], weight[order]
        if not len(key):
            return key, weight
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        return key[starts], np.maximum.reduceat(weight, starts)

    def conflict_free(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Pairs that may be one person: some birth dates compatible (or one side has none), no shared
        no-duplicates source, no namesake handles."""
        if self.guards is None:
            return np.ones(len(a), dtype=bool)
        letters = self.guards.handle_letters
        dated = self.dates.has(a) & self.dates.has(b)
        ok = ~dated
        ok[dated] = self.dates.any_pair(a[dated], b[dated], dates_compatible)
        ok &= ~self.sources.any_pair(a, b, np.equal)
        ok &= ~self.handles.any_pair(a, b, lambda x, y: (letters[x] == letters[y]) & (x != y))
        return ok

    def choices(self, key: np.ndarray, w: np.ndarray, related: np.ndarray, min_weight: float,
                margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Each cluster's best partner (a, b) from pairs at `min_weight`, kept when it beats by `margin`
        every rival: another partner c that is neither `related` to b nor born on a compatible date."""
        strong = w >= min_weight
        a, b, w = key[strong] // self.universe, key[strong] % self.universe, w[strong]
        order = np.lexsort((b, -w, a))
        a, b, w = a[order], b[order], w[order]
        first = np.r_[True, a[1:] != a[:-1]] if len(a) else np.zeros(0, dtype=bool)
        group = np.cumsum(first) - 1
        best_a, best_b, best_w = a[first], b[first], w[first]
        rest = ~first
        partner, c, w2, of = best_b[group[rest]], b[rest], w[rest], group[rest]
        candidate = partner * self.universe + c
        at = np.minimum(np.searchsorted(related, candidate), max(len(related) - 1, 0))
        rival = related[at] != candidate if len(related) else np.ones(len(c), dtype=bool)
        if self.guards is not None:
            rival &= ~self.dates.any_pair(partner, c, dates_compatible)
        strongest_rival = np.full(len(best_a), -np.inf)
        np.maximum.at(strongest_rival, of[rival], w2[rival])
        keep = best_w - strongest_rival >= margin
        return best_a[keep], best_b[keep]


def grow(labels: np.ndarray, universe: int, left: np.ndarray, right: np.ndarray, weight: np.ndarray,
         guards: _Guards | None, min_weight: float, margin: float, max_rounds: int = 30,
         related_weight: float = 0.0) -> tuple[np.ndarray, int]:
    """Mutual best links over arrays: `labels` per record (numbers below `universe`), edges between record
    positions; returns the new labels and the rounds (as the Spark engine counts them)."""
    labels = labels.copy()
    for round_no in range(1, max_rounds + 1):  # noqa: B007 - returned: how many rounds it took
        a, b = labels[left], labels[right]
        apart = a != b
        step = _Round(labels, universe, guards)
        key, w = step.cluster_pairs(a[apart], b[apart], weight[apart])
        ok = step.conflict_free(key // universe, key % universe)
        key, w = key[ok], w[ok]
        old, new = step.choices(key, w, key[w >= related_weight], min_weight, margin)
        choice = np.full(universe, NONE, dtype=np.int64)
        choice[old] = new
        merge = (choice[new] == old) & (old > new)
        log.info("clustering: round %d of mutual best links merges %d clusters", round_no, int(merge.sum()))
        if not merge.any():
            break
        rename = np.arange(universe)
        rename[old[merge]] = new[merge]
        labels = rename[labels]
    return labels, round_no


def components_of(count: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components of `count` numbered nodes; each labelled with its smallest node."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(count, count))
    _, found = graph_components(graph, directed=False)
    _, smallest = np.unique(found, return_index=True)  # nodes are in order: a component's first is its smallest
    return smallest[found].astype(np.int64)


def _known(*ids: np.ndarray) -> np.ndarray:
    return np.logical_and.reduce([i >= 0 for i in ids])


class DriverClusterer(Clusterer):
    """Clustering on the driver over Arrow/numpy arrays."""

    name = "driver"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.local = spark.sparkContext.master.startswith("local")

    def _frame(self, keys: _Keys, records: np.ndarray, labels: np.ndarray) -> DataFrame:
        table = pa.table({"record_key": keys.strings(records).cast(pa.string()),
                          "component": keys.strings(labels).cast(pa.string())})
        if not self.local:
            return checkpoint(self.spark.createDataFrame(table))
        # a local master reads a Parquet file faster than it takes an Arrow table through py4j
        folder = Path(tempfile.mkdtemp(prefix="c360-clusters-"))
        try:
            pq.write_table(table, folder / "part-0.parquet")
            return checkpoint(self.spark.read.parquet(folder.as_uri()))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _edges(keys: _Keys, edges: DataFrame, *extra: str) -> list[np.ndarray]:
        table = edges.select("record_key_l", "record_key_r", *extra).toArrow()
        left, right = keys.ids(table["record_key_l"]), keys.ids(table["record_key_r"])
        known = _known(left, right)
        return [left[known], right[known], *(table[c].to_numpy()[known] for c in extra)]

    def _scored(self, keys: _Keys, scored: DataFrame, weakest: float) -> list[np.ndarray]:
        """Scored edges from match weight `weakest` up: left, right, weight."""
        return self._edges(keys, scored.where(F.col("match_weight") >= weakest), "match_weight")

    def connected_components(self, nodes: DataFrame, edges: DataFrame) -> DataFrame:
        keys = _Keys(nodes.select("record_key").toArrow()["record_key"])
        left, right = self._edges(keys, edges)
        everyone = np.arange(len(keys))
        return self._frame(keys, everyone, components_of(len(keys), left, right))

    def _labelled(self, components: DataFrame) -> tuple[_Keys, np.ndarray, np.ndarray, np.ndarray]:
        """Keys, each record's number, its label's number and record number -> position (NONE: no record)."""
        table = components.select("record_key", "component").toArrow()
        keys = _Keys(table["record_key"], table["component"])
        records, labels = keys.ids(table["record_key"]), keys.ids(table["component"])
        position = np.full(len(keys), NONE, dtype=np.int64)
        position[records] = np.arange(len(records))
        return keys, records, labels, position

    def _guards(self, keys: _Keys, position: np.ndarray, guards: DataFrame | None) -> _Guards | None:
        if guards is None:
            return None
        table = guards.toArrow()
        ids = keys.ids(table["record_key"])
        return _Guards.of(table, np.where(ids >= 0, position[ids], NONE), int((position >= 0).sum()))

    def best_link_clusters(self, components: DataFrame, scored: DataFrame, min_weight: float, margin: float,
                           guards: DataFrame | None = None, max_rounds: int = 30,
                           related_weight: float = 0.0) -> tuple[DataFrame, int]:
        keys, records, labels, position = self._labelled(components)
        left, right, weight = self._scored(keys, scored, min(min_weight, related_weight))
        left, right = position[left], position[right]
        known = _known(left, right)
        grown, rounds = grow(labels, len(keys), left[known], right[known], weight[known],
                             self._guards(keys, position, guards), min_weight, margin, max_rounds, related_weight)
        return self._frame(keys, records, grown), rounds

    def _split(self, keys: _Keys, records: np.ndarray, labels: np.ndarray, position: np.ndarray, edges: DataFrame,
               max_size: int) -> tuple[np.ndarray, list[dict]]:
        sizes = np.bincount(labels, minlength=len(keys))
        big = sizes[labels] > max_size
        if not big.any():
            return labels, []
        left, right, strength = self._edges(keys, edges, "strength")
        left, right = position[left], position[right]
        inside = _known(left, right)
        inside[inside] = big[left[inside]] & big[right[inside]]
        members = np.flatnonzero(big)
        name = dict(zip(members.tolist(), keys.strings(records[members]).to_pylist(), strict=True))
        of = dict(zip(name.values(), keys.strings(labels[members]).to_pylist(), strict=True))
        inner = zip([name[i] for i in left[inside].tolist()], [name[i] for i in right[inside].tolist()],
                    strength[inside].tolist(), strict=True)
        piece, report = split_pieces(of, inner, max_size)
        labels = labels.copy()
        labels[members] = keys.ids(pa.chunked_array([pa.array([piece[name[i]] for i in members.tolist()])]))
        return labels, report

    def split_oversized(self, components: DataFrame, edges: DataFrame, max_size: int) -> tuple[DataFrame, list[dict]]:
        keys, records, labels, position = self._labelled(components)
        split, report = self._split(keys, records, labels, position, edges, max_size)
        return (self._frame(keys, records, split) if report else components), report

    def cluster(self, nodes: DataFrame, exact: DataFrame, scored: DataFrame, strength: DataFrame,
                guards: DataFrame | None, rules: ClusterRules) -> Clusters:
        keys = _Keys(nodes.select("record_key").toArrow()["record_key"])
        everyone = np.arange(len(keys))  # records are numbered in order: number == position
        exact_l, exact_r = self._edges(keys, exact)
        labels = components_of(len(keys), exact_l, exact_r)
        left, right, weight = self._scored(keys, scored, rules.weakest_link)
        graph = components_of(len(keys), np.concatenate([exact_l, left]), np.concatenate([exact_r, right]))
        labels, rounds = grow(labels, len(keys), left, right, weight, self._guards(keys, everyone, guards),
                              rules.min_weight, rules.margin, rules.max_rounds, rules.related_weight)
        labels, oversized = self._split(keys, everyone, labels, everyone, strength, rules.max_size)
        return Clusters(self._frame(keys, everyone, labels), rounds, oversized, self._frame(keys, everyone, graph))
