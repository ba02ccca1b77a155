"""The house's import rules (.importlinter) hold, and every package of ours is under them."""

import configparser
from pathlib import Path

from django.conf import settings
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"


def _root_packages() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    return set(parser["importlinter"]["root_packages"].split())


def test_every_package_of_ours_is_checked():
    ours = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    local_apps = {app for app in settings.INSTALLED_APPS if (ROOT / app / "__init__.py").exists()}
    assert ours | local_apps == _root_packages(), "add the new package to .importlinter's root_packages and layers"


def test_the_import_contracts_are_kept(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    exit_code = lint_imports(config_filename=str(CONFIG), no_cache=True, no_logo=True)
    assert exit_code == 0, capsys.readouterr().out
