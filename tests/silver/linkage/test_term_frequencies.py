"""Term frequencies belong to the model version: counted once, saved beside the model, and the same for every
run, so a pair scores the same whatever other records a run holds (on each backend)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from c360.silver import model as model_store
from c360.silver.linkage import prediction, term_frequencies
from c360.silver.linkage.backends.base import LinkageBackend
from c360.silver.linkage.keys import linkage_input
from c360.silver.model_frequencies import model_term_frequencies
from tests.silver.linkage.test_prediction import SCHEMA, _people

DATA = Path(__file__).parent.parent / "data"


def _model(tmp_path: Path) -> model_store.ModelFile:
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(model_store.latest(DATA).path, folder)
    return model_store.latest(folder)


def _more_schmidts(spark: SparkSession, n: int) -> DataFrame:
    """`n` other people of Berlin called Schmidt: the surname and the city grow common."""
    return spark.createDataFrame(
        [(f"crm:x{i}", "crm", f"name{i}", "schmidt", None, None, None, None, None, "berlin", None, None) for i in range(n)],
        SCHEMA)


def test_the_columns_are_those_the_model_adjusts(stored_model: dict) -> None:
    assert term_frequencies.columns(stored_model) == ["full_name_key", "last_name_key", "city_key", "company_key"]


def test_the_lookup_gives_stored_frequencies_and_a_value_seen_once_to_new_values(spark: SparkSession) -> None:
    keys = spark.createDataFrame([("a",), ("a",), ("b",), (None,)], "city_key string")
    counted = term_frequencies.count(keys, "city_key")
    assert counted.total == 3 and sorted(counted.table.to_pylist(), key=str) == [
        {"value": "a", "count": 2}, {"value": "b", "count": 1}]
    now = spark.createDataFrame([("a",), ("c",), (None,)], "city_key string")
    found = {r.city_key: r.tf_city_key for r in term_frequencies.lookup(spark, now, counted).collect()}
    assert found == {"a": 2 / 3, "c": 1 / 3}


def test_a_model_version_keeps_the_frequencies_it_was_first_given(spark: SparkSession, tmp_path: Path) -> None:
    model = _model(tmp_path)
    assert model.term_frequencies() is None
    first = model_term_frequencies(model, linkage_input(_people(spark)))
    later = model_term_frequencies(model, linkage_input(_people(spark).unionByName(_more_schmidts(spark, 50))))
    assert {c: (f.total, f.table.to_pylist()) for c, f in first.items()} == {
        c: (f.total, f.table.to_pylist()) for c, f in later.items()}
    assert first["last_name_key"].table.schema.field("count").type == pa.int64()
    assert sorted(p.name for p in Path(model.term_frequencies_dir).iterdir()) == sorted(
        [f"{c}.parquet" for c in first] + [model_store.TOTALS])


def _weights(backend: LinkageBackend, settings: dict, keys: DataFrame, model: model_store.ModelFile | None) -> dict:
    linker = backend.linker(keys, settings)
    if model is not None:
        for frequencies in model_term_frequencies(model, keys).values():
            backend.register_term_frequencies(linker, frequencies.column,
                                              term_frequencies.lookup(keys.sparkSession, keys, frequencies))
    scored, _ = prediction.predict(backend, linker, settings, min_probability=0.0)
    return {(r.record_key_l, r.record_key_r): r.match_weight for r in scored.collect()}


def test_a_pair_scores_the_same_whatever_other_records_the_run_holds(spark: SparkSession, backend: LinkageBackend,
                                                                     stored_model: dict, tmp_path: Path) -> None:
    model = _model(tmp_path)
    alone = linkage_input(_people(spark)).localCheckpoint()
    crowded = linkage_input(_people(spark).unionByName(_more_schmidts(spark, 40))).localCheckpoint()
    pair = ("crm:2", "shop:2")  # Anna Schmidt of Berlin, twice
    assert _weights(backend, stored_model, alone, model)[pair] == _weights(backend, stored_model, crowded, model)[pair]
    # Splink's own counting, over the records at hand, would move it
    assert _weights(backend, stored_model, alone, None)[pair] != _weights(backend, stored_model, crowded, None)[pair]
