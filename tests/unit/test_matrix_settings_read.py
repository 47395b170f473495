"""What a rendered project's code reads from the environment, and the env-example check."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scalekit_gen.matrix.checks import Project, env_example_lists_every_setting
from scalekit_gen.matrix.settings_read import settings_read

SETTINGS = textwrap.dedent(
    """
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Limits(BaseSettings):
        model_config = SettingsConfigDict(case_sensitive=False)
        db_pool_size: int = 4

    class Settings(Limits):
        secret_key: str
        _private: int = 0

    class Sentry(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="SENTRY_")
        dsn: str | None = None
    """
)
DJANGO = textwrap.dedent(
    """
    import os
    DEBUG = env.bool("DEBUG", default=False)
    HOSTS = env.list('ALLOWED_HOSTS', default=[])
    PORT = os.environ.get("PORT", "8000")
    SHARD = os.getenv("SHARD_NAME")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x.settings")
    lower = env.str("not_a_setting_name")
    """
)


def test_pydantic_settings_fields_with_prefix_and_inheritance():
    read = settings_read([("src/p/settings.py", SETTINGS)])
    assert set(read) == {"DB_POOL_SIZE", "SECRET_KEY", "SENTRY_DSN"}
    assert read["SECRET_KEY"] == "src/p/settings.py"


def test_calls_by_name():
    read = settings_read([("src/p/settings/base.py", DJANGO)])
    assert set(read) == {"DEBUG", "ALLOWED_HOSTS", "PORT", "SHARD_NAME", "DJANGO_SETTINGS_MODULE"}


def test_a_file_that_does_not_parse_still_yields_its_calls():
    assert set(settings_read([("src/broken.py", 'X = env.int("WORKERS"\n')])) == {"WORKERS"}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "src" / "p").mkdir(parents=True)
    (tmp_path / "src" / "p" / "settings.py").write_text(SETTINGS, "utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text('env.str("ONLY_IN_TESTS")', "utf-8")
    return Project(tmp_path)


def test_env_example_listing_every_setting_passes(project: Project):
    (project.root / ".env.example").write_text(
        "# comment\nDB_POOL_SIZE=4\nSECRET_KEY=change-me\n# SENTRY_DSN=\n", "utf-8"
    )
    assert list(env_example_lists_every_setting(project)) == []


def test_env_example_missing_a_setting_names_it_and_where_it_is_read(project: Project):
    (project.root / ".env.example").write_text("SECRET_KEY=change-me\n", "utf-8")
    problems = [str(p) for p in env_example_lists_every_setting(project)]
    assert problems == [
        "[env-example] .env.example: DB_POOL_SIZE (read in src/p/settings.py) is not listed: "
        "add `DB_POOL_SIZE=` with what it does",
        "[env-example] .env.example: SENTRY_DSN (read in src/p/settings.py) is not listed: "
        "add `SENTRY_DSN=` with what it does",
    ]


def test_env_example_missing_is_a_problem(project: Project):
    assert [p.message for p in env_example_lists_every_setting(project)] == ["missing"]
