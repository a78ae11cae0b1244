"""Shared by the Python SDK tests: the `kombo-fixture` helper of the tests crate and README's
snippets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))
from cargo_target import debug_binary  # noqa: E402  (infra/ is not a package)


def kombo_fixture(*args: str) -> dict:
    """Runs `kombo-fixture ARGS` (the built binary, else through cargo) and answers the JSON
    document it prints last."""
    binary = debug_binary("kombo-fixture")
    command = [str(binary)] if binary.exists() else [
        "cargo", "run", "--quiet", "-p", "connector-tests", "--bin", "kombo-fixture", "--"]
    done = subprocess.run(command + list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=os.environ.copy())
    assert done.returncode == 0, f"kombo-fixture {args} failed:\n{done.stderr[-4000:]}"
    last = [line for line in done.stdout.splitlines() if line.strip()][-1]
    return json.loads(last)


def readme_snippet(name: str) -> str:
    """The code block of README.md between `<!-- NAME:start -->` and `<!-- NAME:end -->`."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0].strip()
    assert block.startswith("```") and block.endswith("```"), block
    return block.split("\n", 1)[1].rsplit("```", 1)[0]
