"""Each parameter is declared once (ace_core's parameter table); the Launchpad, the observed sources, the
product functions and the README are derived from it, and a Launchpad value is checked like a CSV value."""

from __future__ import annotations

import inspect
from pathlib import Path

import dagster as dg
import pytest

from ace_assets import launchpad
from ace_assets.assets import ephys, raw
from ace_assets.definitions import build_definitions
from ace_assets.partitions import experiment_lines
from ace_core import products
from ace_core.catalog import parameter_table as table
from ace_core.products import cnmfe, miniscope, movies, phase_locking, sync
from ace_core.products import ephys as ephys_products
from ace_core.simulation.calcium import CalciumMovieSpec
from ace_core.simulation.experiment import ExperimentSpec, generate_project

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_MODULES = (ephys_products, sync, miniscope, movies, cnmfe, phase_locking)


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    root = tmp_path_factory.mktemp("launchpad")
    spec = ExperimentSpec(line="1", seed=5, duration_s=20, movie=CalciumMovieSpec(height_px=24, width_px=24))
    generate_project(root / "project", root / "data", [spec])
    return build_definitions(str(root / "project"), str(root / "data"), str(root / "store"))


def _op_config_fields(defs: dg.Definitions) -> dict[str, dict]:
    """op name -> its Launchpad config fields (name -> dagster Field), from the run-config schema."""
    schema = defs.resolve_implicit_global_asset_job_def().run_config_schema.config_type
    ops = schema.fields["ops"].config_type.fields
    out = {}
    for op, field in ops.items():
        op_fields = field.config_type.fields
        if "config" in op_fields and hasattr(op_fields["config"].config_type, "fields"):
            out[op] = op_fields["config"].config_type.fields
    return out


def test_every_launchpad_field_is_a_described_parameter(defs):
    fields = _op_config_fields(defs)
    by_field = {p.field_name: p for p in table.PARAMETERS.values()}
    assert len(fields) >= 15  # CNMF-E and every product that reads a parameter offer overrides
    assert "cnmfe_estimates" in fields and "gSig" in fields["cnmfe_estimates"]
    for op, op_fields in fields.items():
        for name, field in op_fields.items():
            assert name in by_field, f"{op}.{name} is not a parameter of the table"
            assert field.description and by_field[name].description in field.description, f"{op}.{name}"
            assert by_field[name].form.expected in field.description
    n_fields = sum(len(f) for f in fields.values())
    assert n_fields >= len(table.PARAMETERS)  # every parameter reachable from some product's Launchpad


def test_every_csv_parameter_has_exactly_one_declaration():
    names = [p.name for p in table._TABLE]
    assert len(names) == len(set(names)), "a parameter declared twice"
    declared = set(names)
    for vocabulary in (table.ALIASES, table.NOT_USED, table.INFORMATIONAL_COLUMNS):
        assert not declared & set(vocabulary)
    assert set(table.ALIASES.values()) <= declared
    for p in table.PARAMETERS.values():
        assert p.groups and set(p.groups) <= set(table.GROUPS), p.name
        assert p.products, f"{p.name} is read by no product"
        assert p.description and p.form.expected, p.name
        assert table.check_parameter(p.name, p.default) == p.default, p.name
    for group in table.GROUPS:
        assert table.group_parameters(group), f"group {group} has no parameter"


def test_every_product_function_takes_exactly_the_parameters_it_reads():
    by_name = {
        name: getattr(m, name) for m in PRODUCT_MODULES for name in m.__all__ if callable(getattr(m, name))
    }
    products_with_parameters = {prod for p in table.PARAMETERS.values() for prod in p.products}
    # Products whose function takes the values as one mapping (CaImAn names routed by CNMFEParams) or the
    # motion pair made by one function.
    by_mapping = {"cnmfe_estimates": "cnmfe_estimates", "motion_shifts": None}
    for product in sorted(products_with_parameters):
        if product in by_mapping:
            continue
        name = "motion_correction" if product == "motion_corrected_movie" else product
        signature = inspect.signature(by_name[name])
        takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        for pname in table.product_parameters(product):
            p = table.PARAMETERS[pname]
            if not any(table.GROUPS[g].observed for g in p.groups):
                continue  # worker counts go to the compute resource, not to the science
            assert takes_any or p.field_name in signature.parameters, f"{name}() does not take {pname}"
    assert isinstance(products.Product.__doc__, str)


def test_observed_sources_are_the_parameter_groups(defs):
    graph = defs.resolve_asset_graph()
    sources = {
        k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == "parameters"
    }
    observed = {g for g, spec in table.GROUPS.items() if spec.observed}
    assert sources == observed | {"curation_decisions"}
    for group in observed:  # each product depends on the source of every group it reads
        for product in table.GROUPS[group].products:
            parents = {k.to_user_string() for k in graph.get(dg.AssetKey(product)).parent_keys}
            assert group in parents, f"{product} does not depend on {group}"


def test_a_launchpad_value_is_checked_like_a_csv_value(defs):
    bad = dg.RunConfig({"filtered_lfp": launchpad.config_for("filtered_lfp")(filter_range=[4.0, 0.5])})
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(experiment_lines.name, ["1"])
        result = dg.materialize(
            [raw.raw_neuralynx, ephys.lfp, ephys.filtered_lfp],
            partition_key="1",
            resources=defs.resources,
            instance=instance,
            run_config=bad,
            raise_on_error=False,
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.event_specific_data.error.to_string()
    assert "line 1" in message and "Launchpad config of filtered_lfp" in message
    assert "filter_range" in message and "two frequencies" in message


def test_readme_parameter_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- parameter table: generated -->\n", "<!-- end of parameter table -->"
    assert start in readme and end in readme
    shown = readme.split(start, 1)[1].split(end, 1)[0]
    assert shown == table.markdown_table()
