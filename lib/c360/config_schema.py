"""The JSON Schema of the YAML config, made from the pydantic models so it cannot drift from what loads.

Editors validate a config as it is typed through the `# yaml-language-server: $schema=…` line of the shipped
configs, the docs' configuration reference is rendered from it, and a test compares the committed
`conf/c360.schema.json` with what the code makes now. Keys appear by their YAML spelling (aliases such as
`schema`), each with its docstring as description and its default, including defaults made by a factory.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema
from pydantic import BaseModel
from pydantic_core import core_schema

from c360.config import C360Config

SCHEMA_ID = "urn:c360:config"
SCHEMA_FILE = "conf/c360.schema.json"
"""Where the committed schema lives, relative to the project root."""


class _WithFactoryDefaults(GenerateJsonSchema):
    """Shows the default a field's factory makes (an empty list, the default stitching limits): pydantic
    leaves such defaults out, yet a reader of the reference needs them. A nested section's default is left
    out: each of its keys states its own."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            made = factory()
            if isinstance(made, BaseModel):
                return self.generate_inner(schema["schema"])
            schema = {**schema, "default": made}
            schema.pop("default_factory")
        return super().default_schema(schema)


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a c360 YAML config, keys by alias."""
    schema = C360Config.model_json_schema(by_alias=True, mode="validation", schema_generator=_WithFactoryDefaults)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    """The schema as the committed file holds it (sorted keys are not used: pydantic's order is the models')."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


def undescribed(schema: dict[str, Any]) -> list[str]:
    """`Model.key` of every property without a description (each must say what it is for)."""
    models = {"C360Config": schema, **schema.get("$defs", {})}
    return [f"{name}.{key}" for name, model in models.items()
            for key, prop in model.get("properties", {}).items() if not prop.get("description")]
