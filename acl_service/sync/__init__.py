"""Directory sync: bulk import, export and drift checks of the SPEC §2 tables as NDJSON files.

`format` defines one row Struct per table (the file format), `validate` turns lines into rows or
problems, `files` reads a directory or `.tar.gz`, `importer` stages and applies rows in one
revision, `exporter` writes the files back out, `diff` reports drift, `posthog` maps PostHog's own
tables to the format.
"""
