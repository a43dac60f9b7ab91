"""Launchpad config classes, derived from the parameter table (``ace_core.catalog.parameter_table``).

Each product's class has one optional field per parameter the product reads, described from the table.
An empty field keeps the line's value (its ``analysis_parameters.csv`` row, else the default); a set field
overrides it for this run and is checked exactly like a CSV value.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pydantic

from ace_core.catalog.parameter_table import PARAMETERS, product_parameters


def _describe(name: str) -> str:
    p = PARAMETERS[name]
    unit = f" [{p.unit}]" if p.unit else ""
    default = "empty" if p.default is None else repr(p.default)
    return (
        f"{p.description}{unit}. Expected: {p.form.expected}. Leave empty to use the line's "
        f"analysis_parameters.csv value (default {default})."
    )


def config_for(product: str) -> type[dg.Config]:
    """The Launchpad config class of a product: one optional, described field per parameter it reads."""
    fields: dict[str, Any] = {
        PARAMETERS[name].field_name: (
            PARAMETERS[name].form.config_type | None,
            pydantic.Field(default=None, description=_describe(name)),
        )
        for name in product_parameters(product)
    }
    title = "".join(part.capitalize() for part in product.split("_")) + "Config"
    doc = f"Launchpad overrides of {product}'s parameters for one run (empty: the line's values)."
    return pydantic.create_model(title, __base__=dg.Config, __doc__=doc, **fields)


def overrides(config: dg.Config | None) -> dict[str, Any]:
    """The fields set in a Launchpad config, by parameter name (spaces restored)."""
    if config is None:
        return {}
    by_field = {p.field_name: p.name for p in PARAMETERS.values()}
    return {by_field[k]: v for k, v in config.model_dump().items() if v is not None and k in by_field}
