"""Profiles: the settings file, environment variables and the stack outputs `ingest deploy` saves.

Precedence, per setting: options > environment variables > the profile in the file > defaults.
The file is rewritten atomically with mode 0600, because a profile may hold an upload token.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ingestcli.errors import ConfigError

DEFAULT_PROFILE = "default"
DEFAULT_STACK_NAME = "ingest"

# Each setting and the environment variables that set it, first one set wins. The AWS ones
# are boto3's own names; AWS_REGION is read here because botocore reads only the other one.
ENVIRONMENT: Mapping[str, tuple[str, ...]] = {
    "stack_name": ("INGEST_STACK_NAME",),
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "aws_profile": ("AWS_PROFILE",),
    "endpoint_url": ("AWS_ENDPOINT_URL",),
    "api_url": ("INGEST_API_URL",),
    "token": ("INGEST_TOKEN",),
}

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_MUST_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


def config_path() -> Path:
    """The settings file, following the XDG base directory rules at call time."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "ingest" / "config.toml"


def state_dir() -> Path:
    """Where ingest keeps state between runs (the local stack, uploads to resume), following
    the XDG base directory rules at call time."""
    base = os.environ.get("XDG_STATE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "ingest"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where it works, already resolved."""

    profile: str = DEFAULT_PROFILE
    stack_name: str = DEFAULT_STACK_NAME
    region: str | None = None
    aws_profile: str | None = None
    endpoint_url: str | None = None
    api_url: str | None = None
    token: str | None = field(default=None, repr=False)  # a secret: never in a repr or log
    outputs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def resolve(
    profile: str | None = None,
    *,
    stack_name: str | None = None,
    region: str | None = None,
    aws_profile: str | None = None,
    endpoint_url: str | None = None,
    api_url: str | None = None,
    token: str | None = None,
    allow_new: bool = False,
) -> Settings:
    """Combine options, environment and the named profile into one Settings.

    A profile named explicitly (argument or INGEST_PROFILE) must exist in the file, so a
    typo is not silently run against the defaults; `allow_new` lifts that for commands such
    as `ingest deploy` that create the profile.
    """
    options = {
        "stack_name": stack_name,
        "region": region,
        "aws_profile": aws_profile,
        "endpoint_url": endpoint_url,
        "api_url": api_url,
        "token": token,
    }
    name = profile or os.environ.get("INGEST_PROFILE") or DEFAULT_PROFILE
    path = config_path()
    profiles = _profiles(_read(path), path)
    if name in profiles:
        stored = profiles[name]
    elif name == DEFAULT_PROFILE or allow_new:
        stored = {}
    else:
        raise _no_such_profile(name, path, sorted(profiles), from_environment=not profile)

    values: dict[str, str | None] = {}
    for key, value in options.items():
        if value is None:
            value = _from_environment(key)
        if value is None:
            value = _string(stored.get(key), f"profiles.{name}.{key}", path)
        values[key] = value
    outputs = _outputs(stored.get("outputs", {}), name, path)
    return Settings(
        profile=name,
        stack_name=values.pop("stack_name") or DEFAULT_STACK_NAME,
        outputs=MappingProxyType(outputs),
        **values,
    )


def origin(settings: Settings, key: str, option_given: bool) -> str:
    """Where a resolved setting came from, as a message names it: its option, its
    environment variable, or the profile (the precedence `resolve` follows)."""
    if option_given:
        return "--" + key.replace("_", "-")
    variable = next((name for name in ENVIRONMENT.get(key, ()) if os.environ.get(name)), None)
    return variable or f"{key} in profile {settings.profile}"


def list_profiles() -> list[str]:
    """The profile names in the file, sorted; none when there is no file."""
    path = config_path()
    return sorted(_profiles(_read(path), path))


def save_profile(name: str, **values: str | int | bool | None) -> Path:
    """Merge `values` into one profile and rewrite the file; a None value removes the key."""
    return _update(name, values, outputs=None)


def save_outputs(name: str, outputs: Mapping[str, str], **values: str | int | bool | None) -> Path:
    """Replace the profile's saved stack outputs (a stack update may drop one) and merge values."""
    return _update(name, values, outputs=dict(outputs))


def _no_such_profile(
    name: str, path: Path, known: list[str], *, from_environment: bool
) -> ConfigError:
    """Says it looked for an *ingest* profile: `--profile prod` meant for AWS is a common slip."""
    named = " (named by INGEST_PROFILE)" if from_environment else ""
    return ConfigError(
        f"no ingest profile '{name}'{named} in {path} (profiles there: "
        f"{', '.join(known) or 'none'}): create it with `ingest login --profile {name}` or "
        f"`ingest deploy --profile {name}`; an AWS profile is named with --aws-profile"
    )


def _from_environment(key: str) -> str | None:
    for variable in ENVIRONMENT[key]:
        value = os.environ.get(variable)
        if value:  # an empty variable counts as unset, as it does for boto3
            return value
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:  # its message ends with "(at line N, column M)"
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not valid TOML: it is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror}") from None


def _profiles(document: Mapping[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: profiles must be a table of profiles")
    for name, profile in profiles.items():
        if not isinstance(profile, dict):
            raise ConfigError(f"{path}: profiles.{name} must be a table")
    return profiles


def _string(value: object, key: str, path: Path) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{path}: {key} must be a string")


def _outputs(value: object, name: str, path: Path) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: profiles.{name}.outputs must be a table")
    for key, output in value.items():
        _string(output, f"profiles.{name}.outputs.{key}", path)
    return dict(value)


def _update(name: str, values: Mapping[str, object], outputs: dict[str, str] | None) -> Path:
    path = config_path()
    document = _read(path)
    profiles = _profiles(document, path)
    document["profiles"] = profiles
    profile = profiles.setdefault(name, {})
    for key, value in values.items():
        if value is None:
            profile.pop(key, None)
        else:
            profile[key] = value
    if outputs is not None:
        profile["outputs"] = outputs
    write_atomically(path, _dumps(document, path))
    return path


def write_atomically(path: Path, text: str) -> None:
    """Write a temp file beside the target, then rename it over: readers never see half."""
    data = text.encode("utf-8")
    target = path.resolve()  # a symlinked config file (dotfile managers) stays a symlink
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None


def _dumps(document: Mapping[str, Any], path: Path) -> str:
    """TOML for the shape this file has: nested tables of strings, integers and booleans."""
    lines: list[str] = []

    def table(keys: tuple[str, ...], mapping: Mapping[str, Any]) -> None:
        values = [(key, value) for key, value in mapping.items() if not isinstance(value, dict)]
        tables = [(key, value) for key, value in mapping.items() if isinstance(value, dict)]
        # A table holding only tables needs no header of its own; an empty one does.
        if keys and (values or not tables):
            if lines:
                lines.append("")
            lines.append(f"[{'.'.join(_key(key) for key in keys)}]")
        for key, value in values:
            lines.append(f"{_key(key)} = {_value(value, (*keys, key), path)}")
        for key, value in tables:
            table((*keys, key), value)

    table((), document)
    return "\n".join(lines) + "\n" if lines else ""


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _quote(key)


def _value(value: object, keys: tuple[str, ...], path: Path) -> str:
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    raise ConfigError(
        f"cannot rewrite {path}: {'.'.join(keys)} holds a {type(value).__name__}, which ingest "
        "does not write; edit that key by hand"
    )


def _quote(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped, the rest as is."""
    return '"' + _MUST_ESCAPE.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[character]
    if character in '"\\':
        return "\\" + character
    return f"\\u{ord(character):04X}"
