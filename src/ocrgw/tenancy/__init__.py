"""Tenancy: what each key may do, set by an operator, and its enforcement at submit (``tenancy.gate``).
``models`` holds the tables, ``policy`` a key's limits as the API process reads them (cached), ``tiers``
the vendors' documented free and standard tiers as profiles to copy onto a key, ``admin`` the operator's
operations, shared by the CLI (``commands``, its parsers in ``arguments``) and the native admin API
(``dialects.native.admin``). Fair scheduling and usage metering, the other half of tenancy, live with the
jobs (``jobs.fairness``, ``jobs.usage``)."""
