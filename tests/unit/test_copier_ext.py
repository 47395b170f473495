"""The Jinja extension, exercised in plain Jinja environments (no Copier run)."""

from __future__ import annotations

import base64
import json

import jinja2
import pytest
from jinja2.bccache import bc_magic
from jinja2.ext import Extension
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from scalekit_gen.blueprint import AnswerLayer, build_blueprint
from scalekit_gen.copier_ext import ScalekitExtension, _CompileCache, compile_cache_dir

ENVIRONMENTS = [
    pytest.param(jinja2.Environment, id="Environment"),
    pytest.param(SandboxedEnvironment, id="SandboxedEnvironment"),
]


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    """Every environment here caches its compiled templates below tmp_path, never in ~."""
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("SCALEKIT_NO_COMPILE_CACHE", raising=False)
    return home


@pytest.fixture(params=ENVIRONMENTS)
def env_class(request):
    return request.param


def _env(env_class=jinja2.Environment, **options):
    return env_class(extensions=[ScalekitExtension], **options)


def _render(source, env_class=jinja2.Environment, **answers):
    return _env(env_class).from_string(source).render(**answers)


def _answers(**values):
    """A complete Copier answer set: every applicable decision answered."""
    return build_blueprint(
        [AnswerLayer("test", {"project_name": "Acme Shop", **values})]
    ).copier_data


# --------------------------------------------------------------------------- questions


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"framework": "fastapi"}, "async"),
        ({"framework": "django"}, "sync"),
        ({"framework": "fastapi", "queue": "rq"}, "sync"),  # the only concurrency rq fits
    ],
    ids=["framework=fastapi", "framework=django", "framework=fastapi,queue=rq"],
)
def test_default_follows_earlier_answers(env_class, answers, expected):
    assert _render("{{ scalekit_default('concurrency') }}", env_class, **answers) == expected


def test_default_mapping_is_json(env_class):
    rendered = _render("{{ scalekit_default('owners') }}", env_class, project_name="Acme Shop")
    assert json.loads(rendered) == {"*": "@acme-shop/backend"}


def test_default_skips_unparseable_answers(env_class):
    assert _render("{{ scalekit_default('concurrency') }}", env_class, framework="flask") == "async"


@pytest.mark.parametrize(
    ("queue", "expected"),
    [("none", "False"), ("celery", "True")],
    ids=["queue=none", "queue=celery"],
)
def test_applies_follows_earlier_answers(env_class, queue, expected):
    assert _render("{{ scalekit_applies('broker') }}", env_class, queue=queue) == expected


def test_validate_reports_a_broken_rule(env_class):
    message = _render(
        "{{ scalekit_validate('queue') }}",
        env_class,
        framework="fastapi",
        concurrency="async",
        queue="rq",
    )
    assert message.startswith("queue: rq needs concurrency: sync, but concurrency is async")


def test_validate_is_empty_for_a_fine_answer(env_class):
    source = "{{ scalekit_validate('queue') }}"
    assert _render(source, env_class, framework="fastapi", concurrency="sync", queue="rq") == ""


def test_validate_is_empty_when_unanswered(env_class):
    assert _render("{{ scalekit_validate('queue') }}", env_class, framework="fastapi") == ""


def test_validate_reports_an_unparseable_answer(env_class):
    message = _render("{{ scalekit_validate('queue') }}", env_class, queue="kafka")
    assert message.startswith("'kafka' is not an option")


def test_validate_reports_a_refused_value(env_class):
    message = _render(
        "{{ scalekit_validate('broker') }}", env_class, queue="celery", broker="memcached"
    )
    assert "memcached is a cache, never a broker" in message


# --------------------------------------------------------------------------- vocabulary


def test_vocabulary_is_in_a_file_rendered_with_complete_answers(env_class):
    rendered = _render("{{ package }}|{{ slug }}|{{ has_queue }}", env_class, **_answers())
    assert rendered == "acme_shop|acme-shop|True"


@pytest.mark.parametrize(
    ("values", "expected"),
    [({"queue": "none"}, "False|0"), ({"queue": "celery"}, "True|1")],
    ids=["queue=none", "queue=celery"],
)
def test_vocabulary_follows_the_answers(env_class, values, expected):
    source = "{{ has_queue }}|{{ records | selectattr('key', 'eq', 'broker') | list | length }}"
    assert _render(source, env_class, **_answers(**values)) == expected


def test_vocabulary_is_in_an_included_template(env_class):
    loader = jinja2.DictLoader(
        {"page": "[{% include 'part' %}]", "part": "{{ package }} {{ has_queue }}"}
    )
    env = env_class(loader=loader, extensions=[ScalekitExtension])
    assert env.get_template("page").render(**_answers()) == "[acme_shop True]"


def test_vocabulary_is_in_a_macro_imported_with_context(env_class):
    loader = jinja2.DictLoader(
        {
            "macros": "{% macro where() %}{{ package }}/{{ fastapi_only }}{% endmacro %}",
            "page": "{% import 'macros' as m with context %}{{ m.where() }}",
        }
    )
    env = env_class(loader=loader, extensions=[ScalekitExtension])
    assert env.get_template("page").render(**_answers()) == "acme_shop/."


def test_no_vocabulary_with_partial_answers(env_class):
    source = "{{ package is defined }}|{{ has_queue is defined }}|{{ records is defined }}"
    assert _render(source, env_class, framework="fastapi") == "False|False|False"


@pytest.mark.parametrize(
    "broken",
    [
        {"queue": "rq", "concurrency": "async"},
        {"read_replicas": "lots"},
        {"broker": "memcached"},
    ],
    ids=["queue=rq,concurrency=async", "read_replicas=lots", "broker=memcached"],
)
def test_no_vocabulary_with_invalid_answers(env_class, broken):
    answers = {**_answers(framework="fastapi", queue="celery"), **broken}
    assert _render("{{ package is defined }}", env_class, **answers) == "False"


@pytest.mark.parametrize(
    ("raw", "source", "expected"),
    [
        pytest.param(
            {"observability": "opentelemetry, prometheus"},
            "{{ observability | join('+') }}",
            "prometheus+opentelemetry",
            id="observability='opentelemetry, prometheus'",
        ),
        pytest.param(
            {"read_replicas": "2"},
            "{{ read_replicas + 1 }} {{ has_replicas }}",
            "3 True",
            id="read_replicas='2'",
        ),
        pytest.param(
            {"modules": "catalog,billing"},
            "{{ modules | join('+') }}",
            "catalog+billing",
            id="modules='catalog,billing'",
        ),
    ],
)
def test_raw_answer_is_replaced_by_its_coerced_value(env_class, raw, source, expected):
    assert _render(source, env_class, **{**_answers(), **raw}) == expected


def test_vocabulary_is_recomputed_per_answer_set(env_class):
    env = _env(env_class)
    template = env.from_string("{{ package }}")
    assert template.render(**_answers(project_name="Acme Shop")) == "acme_shop"
    assert template.render(**_answers(project_name="Other Co")) == "other_co"


# --------------------------------------------------------------------------- secrets


def test_secret_is_fresh_on_every_call(env_class):
    rendered = _render("{{ scalekit_secret() }} {{ scalekit_secret() }}", env_class)
    first, second = rendered.split()
    assert first != second


@pytest.mark.parametrize("nbytes", [16, 48])
def test_secret_has_the_requested_strength(env_class, nbytes):
    secret = _render(f"{{{{ scalekit_secret({nbytes}) }}}}", env_class)
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) == nbytes


def test_secret_defaults_to_48_bytes(env_class):
    secret = _render("{{ scalekit_secret() }}", env_class)
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) == 48


# --------------------------------------------------------------------------- from_string memo


class _CountPreprocess(Extension):
    calls = 0

    def preprocess(self, source, name, filename=None):
        type(self).calls += 1
        return source


@pytest.fixture
def counting_env(env_class):
    _CountPreprocess.calls = 0
    return env_class(extensions=[ScalekitExtension, _CountPreprocess])


def test_from_string_returns_the_same_template_for_the_same_source(env_class):
    env = _env(env_class)
    assert env.from_string("{{ package }}") is env.from_string("{{ package }}")
    assert env.from_string("{{ package }}") is not env.from_string("{{ slug }}")


def test_from_string_memo_is_per_environment(env_class):
    assert _env(env_class).from_string("x") is not _env(env_class).from_string("x")


def test_from_string_preprocesses_on_every_call(counting_env):
    counts = []
    for _ in range(3):
        counting_env.from_string("{{ package }}")
        counts.append(_CountPreprocess.calls)
    assert counts[1] == counts[0] + 1
    assert counts[2] == counts[1] + 1


def test_from_string_with_globals_is_passed_through(env_class):
    env = _env(env_class)
    first = env.from_string("{{ who }}", globals={"who": "first"})
    second = env.from_string("{{ who }}", globals={"who": "second"})
    assert first is not second
    assert (first.render(), second.render()) == ("first", "second")


def test_from_string_with_a_template_class_is_passed_through(env_class):
    class Marked(jinja2.Template):
        pass

    env = _env(env_class)
    assert isinstance(env.from_string("x", template_class=Marked), Marked)
    assert not isinstance(env.from_string("x"), Marked)


# --------------------------------------------------------------------------- compile cache


@pytest.fixture
def templates(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "page.txt").write_text("{{ greeting }}, {{ package }}!")
    return folder


def _file_env(templates, env_class=jinja2.Environment, **options):
    return env_class(
        loader=jinja2.FileSystemLoader(templates), extensions=[ScalekitExtension], **options
    )


def _render_page(env):
    return env.get_template("page.txt").render(greeting="hello", **_answers())


def _cache_files(env):
    folder = compile_cache_dir(env)
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _spy_compile(env, monkeypatch):
    calls = []
    compile_ = env.compile

    def spy(*args, **kwargs):
        calls.append(args)
        return compile_(*args, **kwargs)

    monkeypatch.setattr(env, "compile", spy)
    return calls


def test_environment_gets_the_compile_cache(env_class):
    assert isinstance(_env(env_class).bytecode_cache, _CompileCache)


def test_compile_cache_off_with_scalekit_no_compile_cache(env_class, monkeypatch):
    monkeypatch.setenv("SCALEKIT_NO_COMPILE_CACHE", "1")
    assert _env(env_class).bytecode_cache is None


def test_own_bytecode_cache_is_kept(env_class, tmp_path):
    mine = jinja2.FileSystemBytecodeCache(str(tmp_path))
    env = env_class(extensions=[ScalekitExtension], bytecode_cache=mine)
    assert env.bytecode_cache is mine


def test_compile_cache_dir_is_below_xdg_cache_home(env_class, cache_home):
    assert compile_cache_dir(_env(env_class)).is_relative_to(cache_home / "scalekit")


def test_second_environment_loads_the_compiled_template(env_class, templates, monkeypatch):
    first = _file_env(templates, env_class)
    assert _render_page(first) == "hello, acme_shop!"
    assert len(_cache_files(first)) == 1

    second = _file_env(templates, env_class)
    compiled = _spy_compile(second, monkeypatch)
    assert _render_page(second) == "hello, acme_shop!"
    assert compiled == []
    assert len(_cache_files(second)) == 1


def test_changed_template_is_compiled_afresh(env_class, templates, monkeypatch):
    assert _render_page(_file_env(templates, env_class)) == "hello, acme_shop!"
    (templates / "page.txt").write_text("{{ greeting }} from {{ slug }}")

    second = _file_env(templates, env_class)
    compiled = _spy_compile(second, monkeypatch)
    assert _render_page(second) == "hello from acme-shop"
    assert len(compiled) == 1


def test_unwritable_cache_still_renders(env_class, templates, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))  # mkdir fails below a file
    for _ in range(2):
        assert _render_page(_file_env(templates, env_class)) == "hello, acme_shop!"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"garbage \x00\xff bytes", id="garbage"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated-code"),
        pytest.param(
            lambda data: data[: len(bc_magic) + 4],
            id="truncated-checksum",
        ),
        pytest.param(
            lambda data: data[: len(bc_magic)] + b"garbage",
            id="garbage-after-magic",
        ),
    ],
)
def test_corrupt_cache_file_still_renders(env_class, templates, monkeypatch, damage):
    first = _file_env(templates, env_class)
    _render_page(first)
    (cached,) = _cache_files(first)
    cached.write_bytes(damage(cached.read_bytes()))

    second = _file_env(templates, env_class)
    compiled = _spy_compile(second, monkeypatch)
    assert _render_page(second) == "hello, acme_shop!"
    assert len(compiled) == 1


def test_unreadable_cache_entry_still_renders(env_class, templates):
    first = _file_env(templates, env_class)
    _render_page(first)
    (cached,) = _cache_files(first)
    cached.unlink()
    cached.mkdir()  # opening it for reading or writing fails with IsADirectoryError
    assert _render_page(_file_env(templates, env_class)) == "hello, acme_shop!"


@pytest.mark.parametrize(
    "options",
    [{"trim_blocks": True}, {"lstrip_blocks": True}, {"autoescape": True}, {"enable_async": True}],
    ids=["trim_blocks", "lstrip_blocks", "autoescape", "enable_async"],
)
def test_different_settings_get_different_cache_dirs(env_class, options):
    assert compile_cache_dir(_env(env_class)) != compile_cache_dir(_env(env_class, **options))


def test_same_settings_share_a_cache_dir(env_class):
    assert compile_cache_dir(_env(env_class)) == compile_cache_dir(_env(env_class))


def test_different_extensions_get_different_cache_dirs(env_class):
    plain = _env(env_class)
    more = env_class(extensions=[ScalekitExtension, "jinja2.ext.loopcontrols"])
    assert compile_cache_dir(plain) != compile_cache_dir(more)


def test_sandbox_never_loads_code_compiled_outside_it(templates):
    def unsafe():
        return "ran"

    unsafe.unsafe_callable = True
    (templates / "call.txt").write_text("{{ unsafe() }}")
    assert _file_env(templates).get_template("call.txt").render(unsafe=unsafe) == "ran"

    sandboxed = _file_env(templates, SandboxedEnvironment)
    with pytest.raises(SecurityError):
        sandboxed.get_template("call.txt").render(unsafe=unsafe)
