"""Asset definitions, one module per asset group of the UI.

Each module is loaded with ``load_assets_from_modules(..., group_name=<module name>)``.
"""
