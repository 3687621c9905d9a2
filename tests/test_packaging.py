"""What `pip install .` installs: every module, the shipped configs from the top-level conf/, the bundled data."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def files_under(folder: Path, suffixes: tuple[str, ...]) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.suffix in suffixes and "__pycache__" not in path.parts
    }


def test_the_wheel_carries_every_module_config_and_data_file(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    names = set(zipfile.ZipFile(next(tmp_path.glob("archtrain-*.whl"))).namelist())
    expected = {f"archtrain/{name}" for name in files_under(ROOT / "archtrain", (".py", ".txt", ".json"))}
    expected |= {f"archtrain/conf/{name}" for name in files_under(ROOT / "conf", (".py", ".yaml"))}
    assert len(expected) > 200 and not expected - names, sorted(expected - names)
