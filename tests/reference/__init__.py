"""A test-only, plain-Python reading of SPEC §3, kept independent of the Casbin policy it checks."""
