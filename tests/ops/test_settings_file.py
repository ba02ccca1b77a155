"""Settings come from a `.env` file too; the real environment wins, and `.env.example` lists them all."""

import re
import subprocess
import sys

from tests.workers import ROOT

PRINT_SETTINGS = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'notifications_project.settings'\n"
                  "from django.conf import settings\n"
                  "print(settings.NOTIFICATION_SMS_MAX_SEGMENTS, settings.NOTIFICATION_MAX_ATTEMPTS, settings.DEBUG)")


def settings_seen(env: dict[str, str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin", **env})
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_dotenv_file_is_read_and_the_real_environment_wins(tmp_path):
    dotenv = tmp_path / "service.env"
    dotenv.write_text("# a comment\nDEBUG=true\nNOTIFICATION_SMS_MAX_SEGMENTS=7\nNOTIFICATION_MAX_ATTEMPTS=9\n")

    seen = settings_seen({"DOTENV_FILE": str(dotenv), "NOTIFICATION_MAX_ATTEMPTS": "3"})

    assert seen == ["7", "3", "True"]


def test_without_the_file_the_defaults_hold(tmp_path):
    seen = settings_seen({"DOTENV_FILE": str(tmp_path / "missing.env"), "DEBUG": "true"})

    assert seen == ["10", "5", "True"]


def readme_settings() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in table.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1]))
    return names


def test_the_example_file_lists_every_variable_of_the_readme():
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    readme = readme_settings()

    assert len(readme) > 50
    missing = sorted(readme - listed)
    assert not missing, f"add these README settings to .env.example, with their defaults: {missing}"
    unknown = sorted(listed - readme - {"ANYMAIL_MAILGUN_API_KEY"})
    assert not unknown, f".env.example names variables the README's Settings table does not: {unknown}"
