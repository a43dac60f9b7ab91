"""Analyses of the extracted units: calcium events, trace analyses, phase locking, head orientation, and
the quality reports behind the platform's checks."""
