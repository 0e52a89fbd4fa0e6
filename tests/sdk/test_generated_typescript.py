"""The TypeScript client @hey-api/openapi-ts generates (fetch-based, `@hey-api/client-fetch`) from a running
server's live /v1/openapi.json: generated into a temporary directory, compiled with tsc together with
ts/submit_poll_fetch.ts, and run under Node against the server. The program uploads the phototest page by
multipart, polls getJob, fetches getJobResult as JSON, lists and deletes the job; this test scores the text.

The generator, TypeScript and the Node types are pinned in ts/package.json and its lockfile; `./dev.sh test`
installs them (npm ci). Outside CI a missing Node or node_modules skips; under CI=true it fails."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.conftest import Server, unavailable
from tests.sdk.common import MAX_CER, cer, document, save_live_spec

TS_DIR = Path(__file__).parent / "ts"
BIN = TS_DIR / "node_modules" / ".bin"
PROGRAM = "submit_poll_fetch"


@pytest.fixture(scope="session")
def node() -> str:
    """Checked before the shared server starts, so a skip costs nothing."""
    return toolchain()


def toolchain() -> str:
    """Node's path, or a skip (a failure under CI=true) when Node or the pinned npm packages are missing."""
    node = shutil.which("node")
    problem = ""
    if not node:
        problem = "node is not on PATH (Debian: apt-get install nodejs npm)"
    elif not ((BIN / "openapi-ts").exists() and (BIN / "tsc").exists()):
        problem = f"the TypeScript generator is not installed: npm ci --prefix {TS_DIR} (./dev.sh test does it)"
    if problem:
        unavailable(problem)
    assert node
    return node


def run(args: list[str], cwd: Path, timeout: float = 180) -> str:
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(args)}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout


def build(spec: Path, work: Path) -> Path:
    """Generate the client into work/client, compile it with the program to CommonJS (the generated imports
    have no file extensions, which Node's ESM loader would need), and return the program's .js."""
    run(
        [
            str(BIN / "openapi-ts"),
            "--input",
            str(spec),
            "--output",
            str(work / "client"),
            "--client",
            "@hey-api/client-fetch",
        ],
        cwd=work,
    )
    assert (work / "client" / "sdk.gen.ts").is_file()
    shutil.copy(TS_DIR / f"{PROGRAM}.ts", work)
    (work / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "target": "ES2022",
                    "module": "commonjs",
                    "moduleResolution": "node",
                    "lib": ["ES2022", "DOM"],
                    "strict": True,
                    "skipLibCheck": True,
                    "outDir": "out",
                    "rootDir": ".",
                    "pretty": False,
                    "types": ["node"],
                    "typeRoots": [str(TS_DIR / "node_modules" / "@types")],
                },
                "files": [f"{PROGRAM}.ts"],
            }
        )
    )
    run([str(BIN / "tsc"), "-p", "tsconfig.json"], cwd=work)
    return work / "out" / f"{PROGRAM}.js"


def test_generated_typescript_client_submits_polls_and_fetches(node: str, sdk_server: Server, tmp_path: Path) -> None:
    path, truth = document()
    save_live_spec(sdk_server, tmp_path / "spec.json")
    program = build(tmp_path / "spec.json", tmp_path)

    out = json.loads(run([node, str(program), sdk_server.url, sdk_server.key, str(path)], cwd=tmp_path, timeout=120))
    assert out["status"] == "succeeded", out
    assert out["location"] == f"{sdk_server.url}/v1/jobs/{out['id']}"
    assert out["progress"] == {"pages_done": 1, "pages_total": 1}
    assert cer(out["text"], truth) <= MAX_CER, out["text"]
    assert cer(out["markdown"], truth) <= MAX_CER and out["markdownType"].startswith("text/markdown"), out
    assert out["words"] > 0 and out["listed"], out
    assert (out["deleteStatus"], out["afterDeleteStatus"], out["afterDeleteCode"]) == (204, 404, "NotFound"), out
