"""Azure AI Vision dialect (Read v3.0/v3.1/v3.2 so far): routes, request parsing, result and error
rendering. Contract: shared/contracts/azure.md."""
