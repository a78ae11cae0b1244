#!/usr/bin/env python3
"""Where cargo puts build outputs, for the scripts that run built binaries.

`target_directory` of `cargo metadata` honours `CARGO_TARGET_DIR` and `build.target-dir`
(a global target directory is common among Rust developers), so the stack and the tests find
the binaries `make build` wrote instead of a stale or missing `./target`.

    python3 infra/cargo_target.py            # prints the target directory
    python3 infra/cargo_target.py sr-simulator   # prints <target>/debug/sr-simulator
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def target_dir() -> Path:
    """The workspace's target directory, asked of cargo once per process."""
    done = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"cargo metadata failed:\n{done.stderr[-2000:]}")
    return Path(json.loads(done.stdout)["target_directory"])


def debug_binary(name: str) -> Path:
    """`<target>/debug/<name>`: where `cargo build` (what `make build` runs) writes a binary."""
    return target_dir() / "debug" / name


if __name__ == "__main__":
    print(debug_binary(sys.argv[1]) if len(sys.argv) > 1 else target_dir())
