"""A PostHog-style API server that keeps its own data and asks acl-service who may do what."""
