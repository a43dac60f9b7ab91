"""ACE Assets: Dagster definitions only (partitions, resources, IO managers, assets, checks, sensors).

The science lives in `ace_core`; every asset here reads its inputs, calls one `ace_core` function,
writes its product and attaches metadata.
"""
