"""The dependency direction dashboard → core → db, and cheap imports, hold."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the model and training modules: the network, its input batches, inference, fitting
TF_ALLOWED = {"core/model.py", "core/dataset.py", "core/inference.py", "core/train.py",
              "core/pretrained/musicnn.py", "core/pretrained/convert_musicnn.py",  # the pretrained front end
              "core/quiet.py"}  # the one quiet import of TensorFlow, which those modules call first


def _layer(module: str) -> str:
    """``haverford.db.x`` → ``db``; any other module → its top-level name."""
    parts = module.split(".")
    return parts[1] if parts[0] == "haverford" and len(parts) > 1 else parts[0]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {_layer(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(_layer(node.module))
            if node.module == "haverford":
                names |= {alias.name for alias in node.names}
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", sources("db"), ids=lambda p: p.name)
def test_db_imports_neither_core_tensorflow_nor_streamlit(path):
    assert not imported_modules(path) & {"core", "dashboard", "tensorflow", "keras", "streamlit"}


@pytest.mark.parametrize("path", sources("core"), ids=lambda p: p.name)
def test_core_never_imports_streamlit_and_only_model_code_imports_tensorflow(path):
    names = imported_modules(path)
    assert "streamlit" not in names and "dashboard" not in names
    if str(path.relative_to(ROOT)) not in TF_ALLOWED:
        assert not names & {"tensorflow", "keras"}, f"{path} imports TensorFlow"


@pytest.mark.parametrize("path", sources("dashboard"), ids=lambda p: p.name)
def test_dashboard_reaches_the_database_only_through_core(path):
    assert "db" not in imported_modules(path)


@pytest.mark.parametrize("module", ["haverford.core", "haverford.core.audio", "haverford.core.features",
                                    "haverford.core.ingest", "haverford.core.cli", "haverford.db"])
def test_importing_core_modules_does_not_load_tensorflow_or_streamlit(module):
    code = (f"import sys, {module}; heavy = [m for m in ('tensorflow', 'keras', 'streamlit') "
            f"if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent, check=True)
    assert out.stdout.strip() == ""


def test_ingest_workers_start_without_librosa_or_the_database_layer():
    """Importing what an ingest worker runs costs no librosa (a second) and no sqlite-utils/pandas
    (a third of a second): the CLI forks its workers before either would load."""
    code = ("import sys, haverford.core.cli, haverford.core.ingest, haverford.core.analyse, "
            "haverford.core.home; "
            "print(','.join(m for m in ('librosa', 'sqlite_utils', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", ["predict.py", "inference.py", "evaluate.py", "crosscheck.py", "presets.py"])
def test_prediction_and_evaluation_never_import_the_training_module(name):
    tree = ast.parse((ROOT / "core" / name).read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    allowed_fit = name == "crosscheck.py"  # the cross-check fits its fold models
    assert allowed_fit or "haverford.core.train" not in modules
