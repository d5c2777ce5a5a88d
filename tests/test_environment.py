"""pyproject.toml and environment.yml describe the same environment; the lock pins all of it."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from the PyPI names
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}
# conda-forge packages with no PyPI counterpart: Java for the Spark engine (with pip, Java comes from the system)
CONDA_ONLY = {"openjdk"}
# extras that `make env` installs, and that environment.yml therefore lists too
EXTRAS = ("dev", "spark")
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def _split(req: str) -> tuple[str, str]:
    name, spec = _REQ.match(req).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in EXTRAS:
        reqs += project["optional-dependencies"][extra]
    return dict(_split(r) for r in reqs)


def conda_requirements() -> tuple[dict[str, str], list[str]]:
    """conda-forge packages (by PyPI name) and the pip section's packages not on conda-forge; pip's own lines."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if line.startswith("-"):
                    pip.append(line)
                else:
                    conda.update([_split(line)])
            continue
        name, spec = _split(dep)
        if name in ("python", "pip") or name in CONDA_ONLY:
            continue
        conda[CONDA_TO_PYPI.get(name, name)] = spec
    return conda, pip


def test_environment_yml_lists_the_same_packages_and_bounds_as_pyproject():
    conda, pip = conda_requirements()
    assert conda == pyproject_requirements()
    assert pip == ["-e ."], "environment.yml must install the package itself, editable, with pip"


def test_environment_yml_uses_conda_forge():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]


def test_lock_pins_every_declared_package():
    pins = dict(_split(line.split("==")[0]) for line in (ROOT / "requirements-lock.txt").read_text().splitlines()
                if "==" in line)
    missing = set(pyproject_requirements()) - set(pins)
    assert not missing, f"requirements-lock.txt lacks {sorted(missing)}: run `make lock`"


def test_committed_notebooks_have_no_outputs_and_a_parameters_cell():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), path.name
        tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
        assert nb["metadata"]["kernelspec"]["name"] == "engage-models", path.name
