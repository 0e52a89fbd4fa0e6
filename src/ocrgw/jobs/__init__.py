"""The job core: vendor-neutral states, ORM models, internal schemas, the repository (all SQL) and the
service the dialects call. Nothing here knows about any vendor's wire format."""
