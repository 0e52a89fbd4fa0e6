"""Renderers: the stored result model (JobView pages) -> output documents that several dialects share,
such as a searchable PDF."""
