"""Human output of `ingest check`: the plan, then one line per link as it is decided (what
holds, what is broken and what to look at), then the clean-up and the verdict."""

from __future__ import annotations

from ingestcli.cli.render.output import shown, stdout
from ingestcli.services.check_plan import BROKEN, CLEANED, HOLDS, LEFT, CheckOutcome, CheckPlan
from ingestcli.services.check_plan import Verdict as Verdict

_MARK = {
    HOLDS: "[green]✔[/]",
    CLEANED: "[green]✔[/]",
    BROKEN: "[bold red]✘[/]",
    LEFT: "[bold red]✘[/]",
}
_WIDTH = len("cleanup provider")


def render_plan(plan: CheckPlan) -> None:
    stdout.print(
        f"Checking stack {shown(plan.stack_name)} with canary provider "
        f"{shown(plan.canary)} (deleted afterwards), waiting at most {plan.timeout:g} s "
        "for its report."
    )


def render_verdict(verdict: Verdict) -> None:
    """One link, as soon as it is decided."""
    mark = _MARK.get(verdict.state, "[dim]-[/]")
    name = verdict.link.ljust(_WIDTH)
    stdout.print(f"{mark} {shown(name)}  {shown(verdict.detail)}")
    if verdict.look_at:
        stdout.print(f"  {' ' * _WIDTH}  look at: {shown(verdict.look_at)}")


def render_outcome(outcome: CheckOutcome) -> None:
    """The last line: every link holds, or which one is broken."""
    broken = outcome.broken
    if broken is None:
        stdout.print("[bold green]Every link holds[/], and the canary left nothing behind.")
    elif broken.state == LEFT:
        stdout.print(
            f"[bold red]Clean-up incomplete:[/] {shown(broken.link)} ({shown(broken.cause)})."
        )
    else:
        stdout.print(f"[bold red]Broken link:[/] {shown(broken.link)} ({shown(broken.cause)}).")
