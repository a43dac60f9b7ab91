"""Asset definitions, one module per modality."""
