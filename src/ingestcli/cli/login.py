"""`ingest login`: check a provider's API URL and upload token, then keep them in a profile,
so no shell needs INGEST_API_URL and INGEST_TOKEN exported."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ingestcli.cli.exits import reports_errors
from ingestcli.cli.options import FormatOption, OutputFormat, ProfileOption, settings_for
from ingestcli.errors import AuthError, UsageError

if TYPE_CHECKING:
    from ingestcli.services.config import Settings

MAX_TOKEN_CHARACTERS = 4096  # the API's own limit (services/api_client.py _TOKEN)


@reports_errors
def login(
    api_url: Annotated[
        str | None,
        typer.Option(
            help="The upload API's URL from your operator [env: INGEST_API_URL]; asked for on "
            "a terminal when neither it nor the profile has one."
        ),
    ] = None,
    token_stdin: Annotated[
        bool,
        typer.Option("--token-stdin", help="Read the upload token from standard input."),
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            help="The upload token. Shells keep it in their history and other users can see "
            "it in the process list: prefer the hidden prompt, or --token-stdin."
        ),
    ] = None,
    profile: ProfileOption = None,
    output_format: FormatOption = OutputFormat.text,
) -> None:
    """Check your API URL and upload token, and save them in your ingest profile."""
    from ingestcli.cli.render import output
    from ingestcli.services import config
    from ingestcli.services.api_client import ApiClient

    if token is not None and token_stdin:
        raise UsageError("give the token once: --token or --token-stdin, not both")
    settings = settings_for(profile, allow_new=True, api_url=api_url)
    url, source = _api_url(settings, api_url)
    secret = token if token is not None else _read_token(token_stdin)
    client = ApiClient(url, secret, url_source=source)  # a malformed URL or token stops here
    try:  # and so does one the API refuses: nothing is saved
        who = client.provider_settings()
    except AuthError:
        raise AuthError(
            "the API did not accept this upload token, so nothing was saved: copy it again, "
            "or ask your operator for a new one"
        ) from None
    path = config.save_profile(settings.profile, api_url=url.strip(), token=secret.strip())
    provider, zone = who.get("provider"), who.get("timezone")
    if output_format is OutputFormat.json:
        output.print_json(
            {"provider": provider, "timezone": zone, "profile": settings.profile, "path": str(path)}
        )
    else:
        zone_text = f"time zone {zone}" if zone else "no time zone: date_time values need an offset"
        output.stdout.print(
            f"Logged in as {output.shown(provider)} ({output.shown(zone_text)}); saved to "
            f"{output.shown(_home_relative(path))}, profile {output.shown(settings.profile)}.",
        )
    for variable, saved in (("INGEST_API_URL", url.strip()), ("INGEST_TOKEN", secret.strip())):
        if os.environ.get(variable, saved).strip() != saved:
            output.stderr.print(
                f"note: {variable} is set in this shell and wins over the profile; unset it "
                "to use what was saved.",
                markup=False,
            )


def _api_url(settings: Settings, option: str | None) -> tuple[str, str]:
    """The URL to check and where it came from (messages name it); asked for on a terminal."""
    from ingestcli.services import config

    if settings.api_url:
        return settings.api_url, config.origin(settings, "api_url", option is not None)
    if not sys.stdin.isatty():
        raise UsageError("no API URL: pass --api-url (your operator gives you one)")
    return typer.prompt("API URL", err=True).strip(), "the API URL"


def _read_token(from_stdin: bool) -> str:
    """The token from standard input (its first line) or a hidden prompt, never echoed."""
    if from_stdin:
        line = sys.stdin.readline(MAX_TOKEN_CHARACTERS + 2)  # bounded: longer is refused
        if not line.strip():
            raise UsageError("--token-stdin read no token from standard input")
        return line
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask for the upload token on: pipe it in with --token-stdin"
        )
    import getpass

    try:
        return getpass.getpass("Upload token (hidden): ", stream=sys.stderr)
    except EOFError:
        raise UsageError("no upload token given") from None


def _home_relative(path: Path) -> str:
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)
