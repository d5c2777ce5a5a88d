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


def test_an_installed_package_carries_the_report_notebooks_and_writes_where_it_is_run(tmp_path):
    """A wheel (what a scheduler's environment installs) holds the report notebooks, the checkout's own; an
    `engage run` of the installed package, outside any checkout, reads them and writes data/ and reports/
    under the folder it was started in (it looked for notebooks in site-packages' grandparent and stopped)."""
    import os
    import shutil
    import subprocess
    import sys
    import zipfile

    wheels, site, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):  # built apart: the checkout stays clean
        shutil.copy2(ROOT / name, source / name)
    for folder in ("src", "notebooks"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns(
            "__pycache__", "*.egg-info", ".ipynb_checkpoints"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(source)], check=True, capture_output=True)
    (wheel,) = wheels.glob("engage_models-*.whl")
    ours = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    with zipfile.ZipFile(wheel) as z:
        shipped = sorted(Path(n).name for n in z.namelist() if n.startswith("engage_models/notebooks/"))
        assert shipped == ours and len(ours) >= 9
        assert z.read("engage_models/notebooks/01_data_quality.ipynb") == \
            (ROOT / "notebooks" / "01_data_quality.ipynb").read_bytes()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "job"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("ENGAGE_HOME", None)
    where = subprocess.run([sys.executable, "-c", "import engage_models.config as c; "
                            "print(c.__file__, c.IN_CHECKOUT, c.PROJECT_ROOT, c.NOTEBOOKS_DIR, sep='\\n')"],
                           cwd=work, env=env, check=True, capture_output=True, text=True).stdout.split("\n")
    assert where[0].startswith(str(site)) and where[1] == "False"
    assert Path(where[2]) == work.resolve() and Path(where[3]) == (site / "engage_models" / "notebooks").resolve()
    done = subprocess.run([sys.executable, "-m", "engage_models", "run", "--demo", "--demo-accounts", "60",
                           "--demo-months", "8", "--only", "01", "--run-date", "2026-01-31"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 3), done.stderr[-2000:]
    assert (work / "reports" / "2026-01-31" / "01_data_quality.html").is_file()
    assert (work / "data" / "raw").is_dir() and not (site / "data").exists()


def test_engage_home_for_data_only_keeps_the_checkouts_notebooks(tmp_path):
    """ENGAGE_HOME set to a folder for data and reports (no notebooks of its own), the package imported from the
    checkout: the reports are the checkout's notebooks; with report notebooks of its own, the folder's."""
    import os
    import subprocess
    import sys

    def where(home):
        env = {**os.environ, "ENGAGE_HOME": str(home)}
        out = subprocess.run([sys.executable, "-c", "import engage_models.config as c; "
                              "print(c.IN_CHECKOUT, c.PROJECT_ROOT, c.NOTEBOOKS_DIR, sep='\\n')"],
                             env=env, check=True, capture_output=True, text=True).stdout.split("\n")
        return out[0], Path(out[1]), Path(out[2])

    assert where(tmp_path) == ("True", tmp_path.resolve(), ROOT / "notebooks")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_own.ipynb").write_text("{}")
    assert where(tmp_path)[2] == tmp_path.resolve() / "notebooks"
