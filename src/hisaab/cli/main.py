"""The `hisaab` Typer application and the one place where errors become messages and exit codes.

Exit status: 0 success, 2 bad input or usage (a one-paragraph message on stderr, no traceback),
1 an internal error (a short message; set HISAAB_DEBUG=1 to see the traceback).
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from hisaab.cli import (
    admin,
    demo,
    evaluate,
    merchants,
    normalize,
    reconcile,
    sandbox_cmd,
    settle,
    simulate,
    templates,
)
from hisaab.errors import HisaabError, InputError

app = typer.Typer(
    name="hisaab",
    help="Reconcile payment-gateway transactions against bank and wallet statements.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("reconcile")(reconcile.reconcile_command)
app.command("normalize")(normalize.normalize_command)
app.command("simulate")(simulate.simulate_command)
app.command("evaluate")(evaluate.evaluate_command)
app.add_typer(templates.app, name="templates")
app.command("migrate")(admin.migrate_command)
app.add_typer(admin.config_app, name="config")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.audit_app, name="audit")
app.add_typer(merchants.app, name="merchants")
app.command("settle")(settle.settle_command)
app.add_typer(settle.payouts_app, name="payouts")
app.add_typer(settle.refunds_app, name="refunds")
app.add_typer(settle.disputes_app, name="disputes")
app.command("serve")(admin.serve_command)
app.command("worker")(admin.worker_command)
app.command("demo")(demo.demo_command)
app.command("sandbox")(sandbox_cmd.sandbox_command)

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `hisaab` script."""
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit:
        raise
    except InputError as exc:
        err_console.print(f"error: {exc.describe()}", markup=False)
        sys.exit(2)
    except HisaabError as exc:
        err_console.print(f"error [{exc.code}]: {exc.describe()}", markup=False)
        sys.exit(2 if exc.http_status < 500 else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted; no output was written", markup=False)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("HISAAB_DEBUG"):
            raise
        err_console.print(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in Hisaab; "
            "run again with HISAAB_DEBUG=1 for the traceback.",
            markup=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
