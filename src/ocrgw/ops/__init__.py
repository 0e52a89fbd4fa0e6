"""Operations: what an operator watches rather than what a client calls. Prometheus metrics (API requests,
jobs by state, worker page timings), structured logs, and the request id that ties an HTTP request to the
job it submitted and to the worker log lines of that job."""
