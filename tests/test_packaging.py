"""Haverford installs as one top-level package and never picks up a user's ``db`` or ``dashboard``."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _source_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, text=True,
                           capture_output=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.mark.slow
def test_the_wheel_holds_one_top_level_package(tmp_path):
    src = _source_copy(tmp_path / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("haverford-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"haverford"}
    for needed in ("haverford/core/mel_basis.npz", "haverford/core/benchmarks.json", "haverford/dashboard/app.py",
                   "haverford/dashboard/views/label.py", "haverford/db/migrations.py",
                   "haverford/core/pretrained/musicnn_msd.npz", "haverford/core/pretrained/musicnn_msd_reference.npz",
                   "haverford/core/pretrained/musicnn-LICENSE.md", "haverford/core/pretrained/musicnn.py"):
        assert needed in names


def test_a_db_module_and_a_dashboard_folder_in_the_working_directory_change_nothing(tmp_path):
    (tmp_path / "db.py").write_text("raise RuntimeError('the user db.py was imported')\n")
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "dashboard" / "__init__.py").write_text("raise RuntimeError('user dashboard')\n")
    (tmp_path / "core.py").write_text("raise RuntimeError('the user core.py was imported')\n")
    home = str(tmp_path / "home")
    for args in (["ingest", "nothing-here", "--home", home], ["export", "out.json", "--home", home]):
        proc = subprocess.run([sys.executable, "-m", "haverford.core.cli", *args], cwd=tmp_path,
                              capture_output=True, text=True)
        assert "RuntimeError" not in proc.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == []
    code = ("import json, haverford.db, haverford.dashboard, haverford.core.cli_serve as c; "
            "print(json.dumps([haverford.db.__file__, str(c.dashboard_app())]))")
    db_file, app = json.loads(subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                                             capture_output=True, text=True).stdout)
    assert Path(db_file) == ROOT / "db" / "__init__.py"
    assert Path(app) == ROOT / "dashboard" / "app.py"
