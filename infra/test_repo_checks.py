"""Unit tests of the repository's own checks (run by `make test-unit`, no stack needed).

- `check_layers.py` must fail on what it exists to catch (a cycle, the domain importing an
  adapter), or the green line in `make lint` means nothing.
- Every source path the READMEs name (the route → Lambda → source tables, "where the depth
  lives") must exist, so a newcomer following them never lands on a moved file.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent
CHECK = INFRA / "check_layers.py"


def run_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), str(root)], capture_output=True, text=True, check=False
    )


def write_crate(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_check_layers_passes_on_the_product() -> None:
    result = run_check(ROOT / "shared" / "src")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_layers_fails_on_an_import_cycle(tmp_path: Path) -> None:
    write_crate(
        tmp_path,
        {
            "lib.rs": "pub mod notifications;\npub mod enrichment;\n",
            "notifications.rs": "use crate::enrichment::Enricher;\npub struct Notifications;\n",
            "enrichment.rs": "use crate::notifications::Notifications;\npub struct Enricher;\n",
        },
    )
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert "cycle" in result.stdout + result.stderr


def test_check_layers_fails_when_the_domain_imports_the_store(tmp_path: Path) -> None:
    write_crate(
        tmp_path,
        {
            "lib.rs": "pub mod orders;\npub mod store;\n",
            "orders.rs": "use crate::store::Store;\npub struct Order;\n",
            "store.rs": "pub struct Store;\n",
        },
    )
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert "orders" in result.stdout + result.stderr


def test_a_dependency_named_only_in_a_doc_comment_or_a_test_is_no_cycle(tmp_path: Path) -> None:
    write_crate(
        tmp_path,
        {
            "lib.rs": "pub mod a;\npub mod b;\n",
            "a.rs": "use crate::b::B;\npub struct A;\n",
            "b.rs": "/// Used by [`crate::a::A`].\npub struct B;\n"
            "#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n",
        },
    )
    assert run_check(tmp_path).returncode == 0


READMES = sorted(
    [ROOT / "README.md"]
    + [p for p in ROOT.glob("*/README.md")]
    + [p for p in ROOT.glob("infra/*/README.md")]
)
# A backquoted repository path: `shared/src/api/partner.rs`, `infra/bench/results/`, …
PATH = re.compile(r"`((?:shared|functions|infra|tests)/[A-Za-z0-9_./-]+?)`")
# Files a command writes (not in the repository): their folder must exist.
OUTPUTS = {"infra/bench/results/latest.json"}


def named_paths() -> list[tuple[str, str]]:
    found = []
    for readme in READMES:
        for match in PATH.finditer(readme.read_text()):
            path = match.group(1).rstrip(".")
            if "*" in path or "<" in path:
                continue
            found.append((str(readme.relative_to(ROOT)), path))
    return found


def test_the_readmes_name_paths() -> None:
    # The check below must have something to check: the route table alone names a dozen.
    assert len(named_paths()) > 20


@pytest.mark.parametrize(("readme", "path"), named_paths())
def test_every_path_a_readme_names_exists(readme: str, path: str) -> None:
    if path in OUTPUTS:
        path = str(Path(path).parent)
    candidates = [ROOT / path, ROOT / Path(readme).parent / path]
    assert any(c.exists() for c in candidates), f"{readme} names {path}, which does not exist"
