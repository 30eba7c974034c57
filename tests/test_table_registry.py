"""The table registry: every published silver and gold column described with its real type, and the
descriptions written into the tables' Delta schemas."""

from __future__ import annotations

from c360.storage import TableStore
from c360.table_registry import BY_NAME, TABLES
from tests.conftest import DemoRun


def assert_described(store: TableStore, layers: tuple[str, ...] = ("silver", "gold")) -> None:
    """Every table of `layers` (bookkeeping tables aside) is in the registry with exactly its columns and
    types, and every column carries the registry's description as its comment."""
    tables = [t for layer in layers for t in store.list_tables(layer) if not t.split(".", 1)[1].startswith("_")]
    assert tables, "no published tables"
    for name in tables:
        entry = BY_NAME.get(name)
        assert entry is not None, f"{name} is not in c360.table_registry"
        actual = {f.name: f.dataType.simpleString() for f in store.schema(name).fields}
        assert actual == {c.name: c.type for c in entry.columns}, name
        assert store.column_comments(name) == entry.comments(), f"{name}: column comments missing or stale"


def test_every_column_has_a_meaning_and_every_table_a_key() -> None:
    for table in TABLES:
        assert table.key, table.name
        assert all(c.meaning.strip() and c.type for c in table.columns), table.name
        assert len({c.name for c in table.columns}) == len(table.columns), table.name


def test_a_run_describes_every_published_column(demo_run: DemoRun) -> None:
    assert_described(demo_run.store)


def test_tables_an_earlier_version_made_get_their_descriptions(demo_run: DemoRun) -> None:
    store, table = demo_run.store, "gold.households"
    column = BY_NAME[table].columns[-1].name
    store.describe_columns(table, {column: "an older description"})
    from c360.table_registry import describe_tables

    assert describe_tables(store, "gold") == {table: [column]}
    assert describe_tables(store, "gold") == {}, "in place: nothing to write"
    assert_described(store, ("gold",))
