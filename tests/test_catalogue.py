"""The Simplified Chinese catalogue is complete: every string of the app is in it, translated, not fuzzy, with the
same placeholders, and the compiled catalogue is what the app serves."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils import translation

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _catalogue(path=PO):
    with open(path, "rb") as handle:
        return read_po(handle, locale="zh_Hans")


def _ids(catalogue):
    return {
        (message.context, message.id if isinstance(message.id, str) else message.id[0])
        for message in catalogue
        if message.id
    }


def test_every_message_is_translated_and_not_fuzzy():
    catalogue = _catalogue()
    assert not catalogue.fuzzy, "the catalogue's header is marked fuzzy: Babel would not compile it"
    untranslated, fuzzy = [], []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(strings):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert untranslated == [], f"{len(untranslated)} untranslated: {untranslated[:10]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy: {fuzzy[:10]}"


def test_translations_keep_their_placeholders():
    errors = [(message.id, [str(error) for error in problems]) for message, problems in _catalogue().check()]
    assert errors == []


def test_catalogue_holds_every_string_of_the_app(tmp_path):
    """Re-extract the app's strings (as `make messages` does) and compare: a new string without a translation fails."""
    if not shutil.which("xgettext"):
        if os.environ.get("CI"):
            pytest.fail("gettext's xgettext is missing (make browser installs it)")
        pytest.skip("gettext's xgettext is not installed")
    for name in ("manage.py", "tracker", "plans", "templates", "locale"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        else:
            shutil.copy(source, tmp_path / name)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tracker.settings.test", "PYTHONPATH": str(tmp_path)}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    extracted = _ids(_catalogue(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    committed = _ids(_catalogue())
    missing = sorted(extracted - committed, key=str)
    stale = sorted(committed - extracted, key=str)
    assert missing == [], f"strings not in the catalogue (run `make messages` and translate them): {missing[:10]}"
    assert stale == [], f"catalogue entries no longer in the app (run `make messages`): {stale[:10]}"


def test_the_app_speaks_chinese_from_the_compiled_catalogue():
    from plans.choices import Status

    with translation.override("zh-hans"):
        assert str(Status.ON_TRACK.label) == "按计划推进"
        assert str(Status.OFF_TRACK.label) == "偏离计划"
    with translation.override("en"):
        assert str(Status.ON_TRACK.label) == "On track"
