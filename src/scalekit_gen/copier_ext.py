"""The Jinja extension the template loads (`_jinja_extensions` in copier.yml).

It lets `copier.yml` and the template files ask the catalog and the blueprint instead of
repeating their logic in Jinja: computed defaults, which questions apply and validation
messages for the questions, and for the files the named context of `vocabulary` (the plan,
the package, every answer and derived fact). Because of it, plain `copier copy --trust`
validates and renders exactly as `scalekit new` does.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import weakref
from collections.abc import Mapping, MutableMapping
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import Environment, Template, Undefined, nodes, pass_context
from jinja2.bccache import Bucket, FileSystemBytecodeCache
from jinja2.ext import Extension
from jinja2.runtime import Context
from platformdirs import user_cache_dir

from scalekit_gen import __version__, vocabulary
from scalekit_gen.blueprint import AnswerLayer, build_blueprint, coerce, pending
from scalekit_gen.catalog import DECISIONS, conflicts, fitting_default
from scalekit_gen.errors import ScalekitError
from scalekit_gen.plan import build_plan

SOURCE = "copier answers"


def _answers(context: Context | Mapping[str, Any]) -> dict[str, Any]:
    """The catalog answers present in a Copier rendering context (earlier questions only)."""
    found: dict[str, Any] = {}
    for key in DECISIONS:
        value = context.get(key)
        if value is not None and not isinstance(value, Undefined):
            found[key] = value
    return found


def _coerced(context: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in _answers(context).items():
        try:
            out[key] = coerce(DECISIONS[key], raw)
        except ValueError:
            continue  # reported by that question's own validator
    return out


@pass_context
def scalekit_default(context: Context, key: str) -> Any:
    value = fitting_default(key, _coerced(context))
    return json.dumps(value) if isinstance(value, Mapping) else value


@pass_context
def scalekit_applies(context: Context, key: str) -> bool:
    return DECISIONS[key].applies_to(_coerced(context))


@pass_context
def scalekit_validate(context: Context, key: str) -> str:
    """Empty when the answer to `key` is fine; otherwise the message Copier shows."""
    raw = context.get(key)
    if raw is None or isinstance(raw, Undefined):
        return ""
    try:
        value = coerce(DECISIONS[key], raw)
    except ValueError as error:
        return str(error)
    answered = {k: v for k, v in _coerced(context).items() if k != key}
    return "; ".join(conflicts(key, value, answered))


def scalekit_secret(nbytes: int = 48) -> str:
    """A fresh secret on every call: no two renders share one."""
    return secrets.token_urlsafe(nbytes)


@lru_cache(maxsize=32)
def _vocabulary_for(answers_json: str) -> Mapping[str, Any]:
    """The template context for a complete, valid answer set; empty for any other.

    While Copier is still asking, the answers are partial (or not yet valid): the questions'
    own defaults, conditions and validators speak then, and no file is being rendered.
    """
    answers = json.loads(answers_json)
    try:
        coerced = {key: coerce(DECISIONS[key], raw) for key, raw in answers.items()}
        if pending(coerced):
            return {}
        plan = build_plan(build_blueprint([AnswerLayer(SOURCE, answers)]))
    except (ValueError, ScalekitError):
        return {}
    return vocabulary.template_context(plan)


def vocabulary_for(context: Mapping[str, Any]) -> Mapping[str, Any]:
    # Not sort_keys: the order of owners is part of the answer.
    return _vocabulary_for(json.dumps(_answers(context), default=list))


class _VocabularyContext(Context):
    """A render context that holds the vocabulary under every file, include and path.

    Jinja builds one of these for each template it renders (Copier renders every path part
    and every file as a template), so the names are there wherever a template looks.
    """

    def __init__(
        self,
        environment: Environment,
        parent: dict[str, Any],
        name: str | None,
        blocks: dict[str, Any],
        globals: MutableMapping[str, Any] | None = None,
    ) -> None:
        super().__init__(environment, {**parent, **vocabulary_for(parent)}, name, blocks, globals)


def _memoize_from_string(environment: Environment) -> None:
    """Compile each distinct template string once per render instead of on every use.

    Copier renders every path part with `from_string`, which Jinja never caches: the same
    parts (`{{ package }}`, `{{ fastapi_only }}`, a module's `yield`) come back for every
    file below them, and recompiling them took about a quarter of a render. A compiled template is
    immutable and renders the same given the same context, so reusing it is exact. The
    extensions' `preprocess` still runs on every call: Copier's `yield` extension resets its
    per-template state there, and a reused template must start from the same state as a new
    one. Calls with their own globals or template class are passed through untouched.
    """
    compile_string = environment.from_string
    compiled: dict[str, Template] = {}

    def from_string(
        source: str | nodes.Template,
        globals: MutableMapping[str, Any] | None = None,
        template_class: type[Template] | None = None,
    ) -> Template:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return compile_string(source, globals, template_class)
        environment.preprocess(source)
        template = compiled.get(source)
        if template is None:
            template = compiled[source] = compile_string(source)
        return template

    environment.from_string = from_string  # type: ignore[method-assign]


class _CompileCache(FileSystemBytecodeCache):
    """Jinja's on-disk cache of compiled templates, never the reason a render fails.

    Jinja keys each entry by template name and checks it against a hash of the source, so a
    changed template is compiled afresh; the folder is chosen per environment configuration
    (`compile_cache_dir`), so a different Jinja, Python or template setup never reads
    another's code. An unreadable, unwritable or damaged cache only costs the compile it
    would have saved.
    """

    def __init__(self) -> None:
        super().__init__(directory="")  # a folder per environment, see _folder
        self._ready: weakref.WeakKeyDictionary[Environment, str | None] = (
            weakref.WeakKeyDictionary()
        )

    def _folder(self, environment: Environment) -> str | None:
        # Chosen on first use: while the extension is created, the environment's list of
        # extensions is not complete yet.
        if environment not in self._ready:
            folder = compile_cache_dir(environment)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                self._ready[environment] = str(folder)
            except OSError:
                self._ready[environment] = None
        return self._ready[environment]

    def _get_cache_filename(self, bucket: Bucket) -> str:
        return os.path.join(self._folder(bucket.environment) or "", self.pattern % bucket.key)

    def load_bytecode(self, bucket: Bucket) -> None:
        if self._folder(bucket.environment) is None:
            return
        try:
            super().load_bytecode(bucket)
        except Exception:  # damaged in any way (marshal, pickle, I/O): compile instead
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        if self._folder(bucket.environment) is None:
            return
        with suppress(OSError):
            super().dump_bytecode(bucket)


# What the compiled code of a template depends on besides its source: the versions that
# generate and run it, and every setting that changes how Jinja reads or compiles it.
_CODEGEN_SETTINGS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "autoescape",
    "optimized",
    "is_async",
    "finalize",
    # A sandboxed environment compiles calls and operators through its checks; a plain one
    # does not. Code compiled by one must never run in the other.
    "sandboxed",
    "intercepted_binops",
    "intercepted_unops",
)


def compile_cache_dir(environment: Environment) -> Path:
    """Where this environment's compiled templates are kept, one folder per configuration."""
    settings = [repr(getattr(environment, name, None)) for name in _CODEGEN_SETTINGS]
    settings.append(type(environment).__qualname__)
    extensions = sorted(environment.extensions)
    # Whether a filter or test takes the context is decided when a template is compiled.
    passes = [
        f"{kind}:{name}:{getattr(function, 'jinja_pass_arg', None)}"
        for kind, table in (("filter", environment.filters), ("test", environment.tests))
        for name, function in sorted(table.items())
    ]
    versions = [sys.version, jinja2.__version__, __version__]
    key = json.dumps([versions, extensions, settings, passes])
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Path(user_cache_dir("scalekit")) / "jinja" / digest[:16]


def _cache_compiled_files(environment: Environment) -> None:
    """Keep the compiled template files between runs (every `scalekit new` is a new process).

    Compiling the template's files is most of a render; with the cache, a render compiles
    only the files that changed since the last one. SCALEKIT_NO_COMPILE_CACHE=1 turns it off.
    """
    if os.environ.get("SCALEKIT_NO_COMPILE_CACHE") or environment.bytecode_cache is not None:
        return
    environment.bytecode_cache = _CompileCache()


class ScalekitExtension(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.context_class = _VocabularyContext
        _memoize_from_string(environment)
        _cache_compiled_files(environment)
        environment.globals.update(
            scalekit_default=scalekit_default,
            scalekit_applies=scalekit_applies,
            scalekit_validate=scalekit_validate,
            scalekit_secret=scalekit_secret,
        )
