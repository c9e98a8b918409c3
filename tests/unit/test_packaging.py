"""The Lambda zip: only our code, and the same bytes from the same source, wherever built."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from importlib.resources import files
from io import BytesIO
from pathlib import Path

from ingestcli.deploy.artifact import build_lambda_zip

PACKAGE = Path(str(files("ingestcli")))
SHIPPED = sorted(
    path.relative_to(PACKAGE.parent).as_posix()
    for folder in ("core", "lambdas")
    for path in (PACKAGE / folder).rglob("*.py")
)
EXPECTED = sorted(["ingestcli/__init__.py", *SHIPPED])


def entries(content: bytes) -> list[zipfile.ZipInfo]:
    return zipfile.ZipFile(BytesIO(content)).infolist()


def test_two_builds_are_byte_identical() -> None:
    first, second = build_lambda_zip(), build_lambda_zip()
    assert first.content == second.content
    assert first.sha256 == second.sha256 == hashlib.sha256(first.content).hexdigest()
    assert first.key == f"lambda/{first.sha256}.zip"


def test_zip_holds_exactly_our_lambda_code() -> None:
    artifact = build_lambda_zip()
    names = [info.filename for info in entries(artifact.content)]
    assert names == EXPECTED == list(artifact.files)
    assert "ingestcli/lambdas/__init__.py" in names
    archive = zipfile.ZipFile(BytesIO(artifact.content))
    for name in names:
        assert archive.read(name) == (PACKAGE.parent / name).read_bytes()


def test_entries_have_fixed_times_modes_and_compression() -> None:
    for info in entries(build_lambda_zip().content):
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_STORED


def test_file_times_modes_and_stray_files_do_not_change_the_bytes(tmp_path: Path) -> None:
    copy = tmp_path / "ingestcli"
    shutil.copytree(PACKAGE, copy)
    (copy / "lambdas" / "__pycache__").mkdir(exist_ok=True)
    (copy / "lambdas" / "__pycache__" / "ingest.cpython-311.pyc").write_bytes(b"\0")
    (copy / "lambdas" / "notes.txt").write_text("not code\n")
    for path in copy.rglob("*.py"):
        path.chmod(0o600)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    assert build_lambda_zip(copy).content == build_lambda_zip().content


def test_the_zip_alone_provides_the_handlers_modules(tmp_path: Path) -> None:
    """Imported from the zip, the Lambda modules pull in no CLI code (no typer, no rich)."""
    bundle = tmp_path / "lambda.zip"
    bundle.write_bytes(build_lambda_zip().content)
    modules = [name[: -len(".py")].replace("/", ".").removesuffix(".__init__") for name in SHIPPED]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        f"    assert importlib.import_module(name).__file__.startswith({str(bundle)!r}), name\n"
        "assert not {'typer', 'rich', 'ingestcli.cli'} & set(sys.modules), 'CLI code imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(bundle)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# What the Lambda Python runtime ships besides the standard library: boto3 and what it needs.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")


def runtime_venv(root: Path) -> Path:
    """A venv that holds only the Lambda runtime's packages, linked from this environment."""
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for name in RUNTIME_PACKAGES:
        module = importlib.import_module(name)
        source = Path(module.__file__)
        source = source.parent if source.name == "__init__.py" else source
        (Path(site) / source.name).symlink_to(source)
    return python


def test_both_handlers_import_from_the_unzipped_artifact_with_only_boto3(tmp_path: Path) -> None:
    """The zip is enough on the Lambda runtime: nothing else of ours, no typer, rich or moto."""
    code = tmp_path / "code"
    zipfile.ZipFile(BytesIO(build_lambda_zip().content)).extractall(code)
    python = runtime_venv(tmp_path / "venv")
    script = (
        "import importlib, importlib.util, json, sys\n"
        f"sys.path.insert(0, {str(code)!r})  # as the runtime puts /var/task first\n"
        "for name in ('typer', 'rich', 'moto', 'yaml'):\n"
        "    assert importlib.util.find_spec(name) is None, name\n"
        "for name in ('ingestcli.lambdas.ingest.handler', 'ingestcli.lambdas.api.handler'):\n"
        f"    assert importlib.import_module(name).__file__.startswith({str(code)!r}), name\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('ingestcli'))))\n"
    )
    result = subprocess.run(
        [python, "-I", "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded[0] == "ingestcli"
    assert all(name.startswith(("ingestcli.core", "ingestcli.lambdas")) for name in loaded[1:])
