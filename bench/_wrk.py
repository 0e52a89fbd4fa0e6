"""wrk as the submit bench's load generator: one wrk process per API process of a deployment (the connections
split between them), each posting the same body, and a Lua script that writes wrk's exact latency
histogram as JSON, so the percentiles of several processes are those of all their requests together."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from _common import BenchError

WRK_SCRIPT = """
local f = assert(io.open(%(body)s, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = %(ctype)s
%(headers)s
function done(summary, latency, requests)
  local out = assert(io.open(%(out)s, "w"))
  local e = summary.errors
  out:write(string.format('{"requests": %%d, "duration_us": %%d, "errors": {"connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d}, "hist": [', summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
  for i = 1, #latency do
    local v, c = latency(i)
    out:write(string.format('%%s[%%d,%%d]', i > 1 and "," or "", v, c))
  end
  out:write("]}")
  out:close()
end
"""


def _lua(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid Lua string literal for these (paths, header values)


# ------------------------------------------------------------------------------------------- load
@dataclass
class Load:
    """One measurement: every request of every wrk process against one deployment."""

    requests: int
    seconds: float
    errors: dict[str, int]
    hist: list[tuple[int, int]]  # (latency us, count), ascending

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        """The p-th percentile latency in ms (wrk's own rule: the first value whose running count passes it)."""
        total = sum(c for _, c in self.hist)
        if not total:
            return float("nan")
        want = total * p / 100
        run = 0
        for v, c in self.hist:
            run += c
            if run >= want:
                return v / 1000
        return self.hist[-1][0] / 1000


def run_wrk(
    urls: list[str],
    body: Path,
    ctype: str,
    headers: dict[str, str],
    duration: float,
    connections: int,
    threads: int,
    tmp: Path,
) -> Load:
    """wrk against each URL at once (the connections and threads split between them); merged result."""
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError("wrk not found on PATH (Debian: apt-get install wrk)")
    n = len(urls)
    procs = []
    outs = []
    for i, url in enumerate(urls):
        out = tmp / f"wrk-{secrets.token_hex(4)}.json"
        script = tmp / f"wrk-{i}.lua"
        hdrs = "\n".join(f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in headers.items())
        script.write_text(
            WRK_SCRIPT % {"body": _lua(str(body)), "ctype": _lua(ctype), "headers": hdrs, "out": _lua(str(out))}
        )
        conns = connections // n + (1 if i < connections % n else 0)
        cmd = [
            wrk,
            f"-t{max(1, threads // n)}",
            f"-c{conns}",
            f"-d{duration:g}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
        ]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outs.append(out)
    logs = [p.communicate(timeout=duration + 60)[0] for p in procs]
    hist: dict[int, int] = {}
    errors: dict[str, int] = {}
    requests, seconds = 0, 0.0
    for p, out, log in zip(procs, outs, logs, strict=True):
        if p.returncode != 0 or not out.exists():
            raise BenchError(f"wrk failed ({p.returncode}):\n{log[-2000:]}")
        res = json.loads(out.read_text())
        out.unlink()
        requests += res["requests"]
        seconds = max(seconds, res["duration_us"] / 1e6)
        for k, v in res["errors"].items():
            errors[k] = errors.get(k, 0) + v
        for v, c in res["hist"]:
            hist[v] = hist.get(v, 0) + c
    return Load(requests, seconds, errors, sorted(hist.items()))
