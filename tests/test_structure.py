"""The house rules, checked: notebooks only render, the core imports nothing else, no Japanese text in code."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from engage_models.pipeline.stages import STAGE_NAMES

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "engage_models"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")

#: Calls a rendering notebook must not make: fitting, choosing thresholds, writing files, reading raw data.
FORBIDDEN = (r"\.fit\(", r"choose_thresholds", r"\bto_parquet\(", r"\.to_csv\(", r"write_text\(", r"\bopen\(",
             r"export_actions\(", r"save_model\(", r"\bingest\(", r"build_panel\(", r"default_panel\(",
             r"read_parquet\(", r"backtest\(", r"rolling_scores\(", r"bootstrap", r"\.iloc\[", r"sort_values\(",
             r"\.head\(\d", r"\.query\(")


def _code(nb: Path) -> list[tuple[list[str], str]]:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return [(c["metadata"].get("tags", []), "".join(c["source"])) for c in cells if c["cell_type"] == "code"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_only_load_artifacts_and_render(nb):
    cells = _code(nb)
    params = [src for tags, src in cells if "parameters" in tags]
    assert len(params) == 1 and re.fullmatch(r"run_dir = None\s*#[^\n]*\n?", params[0]), params
    for _, src in cells:
        for pattern in FORBIDDEN:
            assert not re.search(pattern, src), f"{nb.name}: `{pattern}` in a code cell:\n{src}"
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.ImportFrom):
                assert node.module.split(".")[0] in ("engage_models", "IPython", "matplotlib", "pathlib"), node.module
    meta = json.loads(nb.read_text(encoding="utf-8"))["metadata"]["engage"]["needs"]
    assert meta and set(meta) <= set(STAGE_NAMES)
    assert not any(c.get("outputs") for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
                   if c["cell_type"] == "code"), "outputs are kept out of git"


def _python_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_core_imports_nothing_else_of_the_package():
    for path in (PACKAGE / "_core").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, f"{path.name} imports {'.' * node.level}{node.module}: _core stands alone"
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                assert not node.module.startswith("engage_models"), f"{path.name} imports {node.module}"


#: Where Japanese text may stand in code: the metric registry (labels are declared with their metric), the demo
#: world's generator (simulated Japanese company names and comments).
JAPANESE_ALLOWED = {"features/metrics.py", "demo/comments.py", "demo/simulator.py"}


def _string_literals(tree: ast.AST):
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def test_no_japanese_text_in_code_outside_the_catalogue_and_the_registry():
    """Report text lives in locales/messages.yaml (and metric names in the registry), so a language is added in one
    place and no `if lang == "ja"` branch can drift from its English twin."""
    found = []
    for path in _python_files():
        rel = str(path.relative_to(PACKAGE))
        if rel in JAPANESE_ALLOWED:
            continue
        for node in _string_literals(ast.parse(path.read_text(encoding="utf-8"))):
            if JAPANESE.search(node.value):
                found.append(f"{rel}:{node.lineno}: {node.value[:40]!r}")
    assert not found, "\n".join(found)


def test_the_shared_helpers_have_one_home():
    """Helpers that once had several copies (UTC conversion, Wilson interval, logit/sigmoid/log loss, JSON
    conversion, the atomic write, the month length) are defined once, in _core."""
    names = {"_utc", "_naive_utc", "_utc_midnight", "wilson", "_sigmoid", "_logit", "log_loss", "_jsonable",
             "read_table", "fmt_interval"}
    defined: dict[str, list[str]] = {}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and (node.name in names or "wilson" in node.name):
                defined.setdefault(node.name, []).append(str(path.relative_to(PACKAGE)))
    stray = {k: v for k, v in defined.items() if any(not p.startswith("_core/") for p in v)}
    assert not stray, stray
    months = [str(p.relative_to(PACKAGE)) for p in _python_files()
              if re.search(r"\b30\.4375?\b|\b30\.44\b", re.sub(r'""".*?"""', "", p.read_text(encoding="utf-8"),
                                                                flags=re.S))]
    assert months == [], months  # the month length is _core.time.DAYS_PER_MONTH


_SCAN = re.compile(r"\b(?:read_(?:parquet|csv|csv_auto|json|json_auto|json_objects|ndjson|ndjson_auto)"
                   r"|parquet_scan)\(")
_NO_HIVE = re.compile(r"hive_partitioning\s*=\s*false", re.IGNORECASE)


def _sql_texts(tree: ast.AST):
    """The string literals of a module (an f-string with its placeholders as ``{}``), docstrings left out."""
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    docs |= {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}  # read whole
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value
        elif isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


def _call_text(text: str, start: int) -> str:
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0 and text[i] == ")":
            return text[start:i + 1]
    return text[start:]


def test_every_duckdb_file_scan_reads_the_path_as_names_not_hive_partitions():
    """DuckDB takes ``key=value`` folders in a path for hive partitions and adds them as columns (a data folder
    under ``export_date=2024-12-31/device=desktop/`` gave every processed table those columns): every scan of a
    file in the package's SQL says ``hive_partitioning = false``."""
    found, missing = 0, []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, text in _sql_texts(ast.parse(path.read_text(encoding="utf-8"))):
            for m in _SCAN.finditer(text):
                found += 1
                call = _call_text(text, m.end() - 1)
                if not _NO_HIVE.search(call):
                    missing.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0)}{call[1:60]}")
    assert found >= 30 and not missing, "\n".join(missing)
