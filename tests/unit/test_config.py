"""Profiles: where the file lives, which source wins, and what is written back."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from ingestcli.errors import ConfigError
from ingestcli.services import config
from ingestcli.services.config import Settings, config_path, list_profiles, resolve, save_outputs
from ingestcli.services.config import save_profile as save

SETTINGS = ("stack_name", "region", "aws_profile", "endpoint_url", "api_url", "token")


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment whose config file lives in tmp_path, whatever the machine has."""
    for variable in list(os.environ):
        if variable.startswith(("AWS_", "INGEST_")):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "ingest" / "config.toml"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


FILE = """\
[profiles.default]
stack_name = "from-file"
region = "eu-west-1"
aws_profile = "file-profile"
endpoint_url = "http://file:4566"
api_url = "https://file.example"
token = "file-token"

[profiles.default.outputs]
UploadsBucket = "ingest-uploads-123-eu-west-1"
RecordsTable = "records"

[profiles.prod]
region = "us-west-2"
"""


# --- where the file is -------------------------------------------------------------------


def test_config_path_follows_xdg_config_home_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "one"))
    assert config_path() == tmp_path / "one" / "ingest" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "two"))
    assert config_path() == tmp_path / "two" / "ingest" / "config.toml"


@pytest.mark.parametrize("value", [None, "", "relative/dir"])
def test_config_path_defaults_to_home_config(
    value: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if value is None:
        monkeypatch.delenv("XDG_CONFIG_HOME")
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", value)
    assert config_path() == tmp_path / ".config" / "ingest" / "config.toml"


# --- precedence --------------------------------------------------------------------------


def test_defaults_without_file_or_environment() -> None:
    assert resolve() == Settings(profile="default", stack_name="ingest")
    assert dict(resolve().outputs) == {}


def test_profile_in_file_beats_defaults(environment: Path) -> None:
    write(environment, FILE)
    settings = resolve()
    assert settings.profile == "default"
    assert settings.stack_name == "from-file"
    assert settings.region == "eu-west-1"
    assert settings.aws_profile == "file-profile"
    assert settings.endpoint_url == "http://file:4566"
    assert settings.api_url == "https://file.example"
    assert settings.token == "file-token"
    assert dict(settings.outputs) == {
        "UploadsBucket": "ingest-uploads-123-eu-west-1",
        "RecordsTable": "records",
    }


ENVIRONMENT_CASES = [
    ("stack_name", "INGEST_STACK_NAME"),
    ("region", "AWS_REGION"),
    ("region", "AWS_DEFAULT_REGION"),
    ("aws_profile", "AWS_PROFILE"),
    ("endpoint_url", "AWS_ENDPOINT_URL"),
    ("api_url", "INGEST_API_URL"),
    ("token", "INGEST_TOKEN"),
]


@pytest.mark.parametrize(("setting", "variable"), ENVIRONMENT_CASES)
def test_environment_beats_file(
    setting: str, variable: str, environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(environment, FILE)
    monkeypatch.setenv(variable, "from-env")
    assert getattr(resolve(), setting) == "from-env"


@pytest.mark.parametrize(("setting", "variable"), ENVIRONMENT_CASES)
def test_environment_beats_defaults(
    setting: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "from-env")
    assert getattr(resolve(), setting) == "from-env"


@pytest.mark.parametrize(("setting", "variable"), ENVIRONMENT_CASES)
def test_options_beat_environment_and_file(
    setting: str, variable: str, environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(environment, FILE)
    monkeypatch.setenv(variable, "from-env")
    assert getattr(resolve(**{setting: "from-option"}), setting) == "from-option"


def test_options_of_none_fall_through(environment: Path) -> None:
    write(environment, FILE)
    assert resolve(**dict.fromkeys(SETTINGS)) == resolve()


def test_aws_region_beats_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert resolve().region == "eu-central-1"


def test_empty_environment_variable_counts_as_unset(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(environment, FILE)
    monkeypatch.setenv("INGEST_TOKEN", "")
    assert resolve().token == "file-token"


def test_each_setting_resolves_on_its_own(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(environment, FILE)
    monkeypatch.setenv("AWS_REGION", "from-env")
    settings = resolve(token="from-option")
    assert (settings.token, settings.region, settings.api_url) == (
        "from-option",
        "from-env",
        "https://file.example",
    )


# --- which profile -----------------------------------------------------------------------


def test_profile_argument_picks_the_profile(environment: Path) -> None:
    write(environment, FILE)
    settings = resolve("prod")
    assert (settings.profile, settings.region, settings.stack_name) == (
        "prod",
        "us-west-2",
        "ingest",
    )


def test_ingest_profile_variable_picks_the_profile(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(environment, FILE)
    monkeypatch.setenv("INGEST_PROFILE", "prod")
    assert resolve().region == "us-west-2"


def test_profile_argument_beats_ingest_profile_variable(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(environment, FILE)
    monkeypatch.setenv("INGEST_PROFILE", "nope")
    assert resolve("prod").profile == "prod"


def test_missing_default_profile_means_defaults(environment: Path) -> None:
    write(environment, '[profiles.prod]\nregion = "us-west-2"\n')
    assert resolve() == Settings()


@pytest.mark.parametrize("file_exists", [True, False])
def test_missing_named_profile_is_an_error_naming_the_file(
    file_exists: bool, environment: Path
) -> None:
    if file_exists:
        write(environment, FILE)
    with pytest.raises(ConfigError) as raised:
        resolve("staging")
    message = str(raised.value)
    assert "'staging'" in message
    assert str(environment) in message
    assert ("default, prod" if file_exists else "none") in message


def test_missing_profile_from_environment_is_an_error_too(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(environment, FILE)
    monkeypatch.setenv("INGEST_PROFILE", "staging")
    with pytest.raises(ConfigError) as raised:
        resolve()
    assert str(raised.value).startswith(
        f"no ingest profile 'staging' (named by INGEST_PROFILE) in {environment} "
        "(profiles there: default, prod)"
    )


def test_missing_profile_says_ingest_profile_and_points_to_aws_profile(environment: Path) -> None:
    """`--profile prod` meant for AWS: the message says what it looked for, and what to use."""
    with pytest.raises(ConfigError) as raised:
        resolve("prod")
    assert str(raised.value) == (
        f"no ingest profile 'prod' in {environment} (profiles there: none): create it with "
        "`ingest login --profile prod` or `ingest deploy --profile prod`; an AWS profile is "
        "named with --aws-profile"
    )


def test_allow_new_accepts_a_missing_named_profile(environment: Path) -> None:
    write(environment, FILE)
    assert resolve("staging", allow_new=True, region="eu-north-1") == Settings(
        profile="staging", region="eu-north-1"
    )


# --- a file that cannot be used ----------------------------------------------------------


def test_invalid_toml_names_the_file_and_the_line(environment: Path) -> None:
    write(environment, '[profiles.default]\nregion = "us-east-1"\nstack_name = = "x"\n')
    with pytest.raises(ConfigError) as raised:
        resolve()
    assert str(environment) in str(raised.value)
    assert "line 3" in str(raised.value)


def test_file_that_is_not_utf8(environment: Path) -> None:
    environment.parent.mkdir(parents=True)
    environment.write_bytes(b'[profiles.default]\nregion = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        resolve()


def test_unreadable_file(environment: Path) -> None:
    environment.mkdir(parents=True)  # a folder where the file should be
    with pytest.raises(ConfigError, match="cannot be read"):
        resolve()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("profiles = 3\n", "profiles"),
        ("[profiles]\ndefault = 3\n", "profiles.default"),
        ("[profiles.default]\nregion = 3\n", "profiles.default.region"),
        ("[profiles.default]\noutputs = 3\n", "profiles.default.outputs"),
        ("[profiles.default.outputs]\nBucket = true\n", "profiles.default.outputs.Bucket"),
    ],
)
def test_wrong_types_name_the_key(text: str, key: str, environment: Path) -> None:
    write(environment, text)
    with pytest.raises(ConfigError, match=f"{key} must be"):
        resolve()


# --- settings ----------------------------------------------------------------------------


def test_settings_are_immutable(environment: Path) -> None:
    write(environment, FILE)
    settings = resolve()
    with pytest.raises(AttributeError):
        settings.region = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.outputs["UploadsBucket"] = "x"  # type: ignore[index]


def test_token_stays_out_of_repr(environment: Path) -> None:
    write(environment, FILE)
    assert "file-token" not in repr(resolve())


def test_list_profiles(environment: Path) -> None:
    assert list_profiles() == []
    write(environment, '[profiles.zeta]\n[profiles.alpha]\n[profiles."with space"]\n')
    assert list_profiles() == ["alpha", "with space", "zeta"]


# --- writing -----------------------------------------------------------------------------


def read_back(path: Path) -> dict:
    with path.open("rb") as stream:
        return tomllib.load(stream)


def test_save_profile_creates_folders_and_file(environment: Path) -> None:
    assert save("default", region="us-east-1") == environment
    assert read_back(environment) == {"profiles": {"default": {"region": "us-east-1"}}}
    assert resolve().region == "us-east-1"


def test_save_profile_merges_and_none_removes(environment: Path) -> None:
    write(environment, FILE)
    save("default", region="ap-south-1", token=None, api_url=None)
    document = read_back(environment)
    default = document["profiles"]["default"]
    assert default["region"] == "ap-south-1"
    assert "token" not in default
    assert "api_url" not in default
    assert default["stack_name"] == "from-file"
    assert default["outputs"]["RecordsTable"] == "records"
    assert document["profiles"]["prod"] == {"region": "us-west-2"}


def test_save_keeps_other_top_level_content(environment: Path) -> None:
    write(environment, 'version = 1\nbeta = true\n[other]\nkey = "v"\n')
    save("default", region="us-east-1")
    assert read_back(environment) == {
        "version": 1,
        "beta": True,
        "other": {"key": "v"},
        "profiles": {"default": {"region": "us-east-1"}},
    }


def test_save_outputs_replaces_outputs_and_merges_values(environment: Path) -> None:
    write(environment, FILE)
    save_outputs("default", {"UploadsBucket": "new-bucket"}, stack_name="ingest-2")
    default = read_back(environment)["profiles"]["default"]
    assert default["outputs"] == {"UploadsBucket": "new-bucket"}
    assert default["stack_name"] == "ingest-2"
    assert default["region"] == "eu-west-1"
    assert dict(resolve().outputs) == {"UploadsBucket": "new-bucket"}


def test_save_outputs_into_a_new_profile(environment: Path) -> None:
    save_outputs("staging", {}, region="eu-north-1")
    assert read_back(environment) == {
        "profiles": {"staging": {"region": "eu-north-1", "outputs": {}}}
    }
    assert list_profiles() == ["staging"]


def test_saved_file_has_mode_0600(environment: Path) -> None:
    write(environment, FILE)
    environment.chmod(0o644)
    save("default", token="secret")
    assert stat.S_IMODE(environment.stat().st_mode) == 0o600


def test_new_config_folder_is_private(environment: Path) -> None:
    save("default", token="secret")
    assert stat.S_IMODE(environment.stat().st_mode) == 0o600
    assert stat.S_IMODE(environment.parent.stat().st_mode) & 0o077 == 0


def test_atomic_write_leaves_no_temp_files(environment: Path) -> None:
    save("default", region="us-east-1")
    save_outputs("default", {"UploadsBucket": "b"})
    save("prod", region="us-west-2")
    assert [path.name for path in environment.parent.iterdir()] == ["config.toml"]


def test_failed_write_keeps_the_old_file_and_no_temp_files(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(environment, FILE)

    def fail(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(config.os, "replace", fail)
    with pytest.raises(ConfigError, match=r"cannot write .*No space left"):
        save("default", region="us-east-1")
    assert environment.read_text(encoding="utf-8") == FILE
    assert [path.name for path in environment.parent.iterdir()] == ["config.toml"]


def test_save_through_a_symlink_keeps_the_symlink(environment: Path, tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "ingest.toml"
    write(real, FILE)
    environment.parent.mkdir(parents=True)
    environment.symlink_to(real)
    save("default", region="us-east-1")
    assert environment.is_symlink()
    assert read_back(real)["profiles"]["default"]["region"] == "us-east-1"


def test_save_refuses_values_it_cannot_write(environment: Path) -> None:
    write(environment, FILE + "ports = [1, 2]\n")
    with pytest.raises(ConfigError, match=r"profiles\.prod\.ports holds a list"):
        save("default", region="us-east-1")
    assert environment.read_text(encoding="utf-8") == FILE + "ports = [1, 2]\n"


def test_save_refuses_an_invalid_file_rather_than_overwriting_it(environment: Path) -> None:
    write(environment, "not toml at all\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        save("default", region="us-east-1")
    assert environment.read_text(encoding="utf-8") == "not toml at all\n"


AWKWARD = [
    "",
    'say "hi"',
    "C:\\Users\\clinic\\",
    "line one\nline two\r\n",
    "tab\there",
    "bell\x07 nul\x00 unit\x1f del\x7f",
    "ünïcödé — 日本語 🏥",
    "\\u0041 is not an escape here",
    '\'single\' and """triple"""',
    "#not a comment",
    "trailing backslash \\",
]


@pytest.mark.parametrize("value", AWKWARD)
def test_round_trip_of_awkward_strings(value: str, environment: Path) -> None:
    save_outputs(value or "empty", {value: value, "Plain": value}, token=value, api_url=value)
    profile = read_back(environment)["profiles"][value or "empty"]
    assert profile == {"token": value, "api_url": value, "outputs": {value: value, "Plain": value}}


def test_round_trip_of_every_value_type_and_awkward_keys(environment: Path) -> None:
    values = {"text": "x", "count": 42, "negative": -7, "on": True, "off": False}
    save("a.b", **values)
    save("with space", **{"key with = sign": "v", "ключ": "значение"})
    assert read_back(environment) == {
        "profiles": {
            "a.b": values,
            "with space": {"key with = sign": "v", "ключ": "значение"},
        }
    }
    assert list_profiles() == ["a.b", "with space"]


def test_round_trip_of_a_whole_file(environment: Path) -> None:
    write(environment, FILE)
    before = read_back(environment)
    save("default")  # rewrite without changes
    assert read_back(environment) == before


def test_a_settings_origin_is_named_as_the_precedence_decides(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save("acme", api_url="https://from.profile")
    settings = resolve("acme")
    assert config.origin(settings, "api_url", option_given=False) == "api_url in profile acme"
    monkeypatch.setenv("INGEST_API_URL", "https://from.environment")
    assert config.origin(resolve("acme"), "api_url", option_given=False) == "INGEST_API_URL"
    assert config.origin(settings, "api_url", option_given=True) == "--api-url"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert config.origin(resolve("acme"), "region", option_given=False) == "AWS_DEFAULT_REGION"
