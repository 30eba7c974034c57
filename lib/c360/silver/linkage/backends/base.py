"""The linkage backend seam: where Splink runs.

Splink runs the same model on Spark and on DuckDB. A backend gives the stage a Splink linker over the match
keys (a Spark DataFrame) and hands Splink's scored pairs back as a Spark DataFrame for the table store to
commit, so the stage, the clustering and the writes do not care which engine scored. Models are saved in the
SQL of the backend that trained them; `portable.for_dialect` renders them for the other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from pyspark.sql import DataFrame
from splink import Linker, SettingsCreator

from c360.silver.linkage import partners
from c360.silver.linkage.spec import Rule

# the columns of Splink's predictions the stage reads: the pair, its score, and what the guards need
PREDICTION_COLUMNS = ("record_key_l", "record_key_r", "match_probability", "match_weight")
GUARD_COLUMNS = ("first_name_key_l", "first_name_key_r", "gamma_name", "gamma_date_of_birth")
PARTNERS_VIEW = "c360_keys"  # the match keys' name in the query that narrows them to the blocking partners


class LinkageBackend(ABC):
    """Runs Splink for one stage run; `close` frees what it holds (connections, scratch files)."""

    name: str
    dialect: str  # Splink's SQL dialect name ('spark', 'duckdb')

    def linker(self, keys: DataFrame, model: SettingsCreator | dict, partners_of: Sequence[Rule] | None = None) -> Linker:
        """A Splink linker over `keys` (match keys, one row per record); with `partners_of` (the prediction
        blocking rules) and keys flagged CHANGED, over the changed records and every record a rule can pair
        with one only (see partners), narrowed on this backend."""
        table = self.table(keys)
        query = partners.sql(partners_of, PARTNERS_VIEW) if partners_of is not None else None
        return self.register(table if query is None else self.query(table, query), model)

    @abstractmethod
    def register(self, table: object, model: SettingsCreator | dict) -> Linker:
        """A Splink linker over a table of this backend (see table)."""

    @abstractmethod
    def query(self, table: object, sql: str) -> object:
        """The result of `sql` over `table` (named PARTNERS_VIEW in it), as a table of this backend, computed
        once."""

    def training_linker(self, sample: DataFrame, model: SettingsCreator | dict) -> Linker:
        """A Splink linker to train a model on `sample` (at most silver.linkage.train_max_records records);
        this backend's own linker unless it trains elsewhere."""
        return self.register(self.table(sample), model)

    @abstractmethod
    def pairs(self, predictions: object, columns: list[str] | None = None) -> DataFrame:
        """Splink's predictions as a Spark DataFrame of `columns` (default: PREDICTION_COLUMNS plus those of
        GUARD_COLUMNS present)."""

    @abstractmethod
    def small_table(self, frame: DataFrame) -> object:
        """A small Spark DataFrame (a chart's sample) as a table this backend's Splink can register."""

    @abstractmethod
    def table(self, frame: DataFrame) -> object:
        """A Spark DataFrame of any size as a table this backend's Splink can register."""

    def register_term_frequencies(self, linker: Linker, column: str, lookup: DataFrame) -> None:
        """Make Splink adjust `column` by the frequencies in `lookup` (<column>, tf_<column>) instead of
        counting the linker's own records (see term_frequencies)."""
        registered = linker.table_management.register_table(self.table(lookup), f"c360_tf_{column}", overwrite=True)
        linker.table_management.register_term_frequency_lookup(registered, column)

    def close(self) -> None:  # noqa: B027 - optional
        """Release what the backend holds."""

    def __enter__(self) -> LinkageBackend:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def kept_columns(columns: list[str]) -> list[str]:
    """The prediction columns to hand back, in order, of those present."""
    return [c for c in (*PREDICTION_COLUMNS, *GUARD_COLUMNS) if c in columns]
