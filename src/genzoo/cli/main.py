"""`genzoo` entry point: the command group and the exit-code contract.

Exit codes: 0 success; 2 a user error (bad argument, config, data or checkpoint), printed as one
line on stderr; 1 an internal error (with a traceback: a bug to report); 130 interrupted.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback

import click

from ..errors import GenzooError, Interrupted, TrainingInterrupted
from . import (
    apps_cmd,
    compare_cmd,
    demo_cmd,
    encode_cmd,
    eval_cmd,
    features_cmd,
    info_cmd,
    latent_cmd,
    list_cmd,
    reconstruct_cmd,
    report_cmd,
    sample_cmd,
    theory_cmd,
    train_cmd,
    translate_cmd,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="genzoo", prog_name="genzoo")
def cli() -> None:
    """genzoo: autoencoders, VAEs, GANs and diffusion models behind one trainer.

    \b
    Examples:
      genzoo list models
      genzoo train ae --data mnist5k --steps 2000 --out runs/ae
      genzoo sample runs/ae --n 64 --out samples.png
      genzoo eval runs/ae --json
      genzoo demo
    """


for module in (
    list_cmd,
    train_cmd,
    sample_cmd,
    eval_cmd,
    features_cmd,
    reconstruct_cmd,
    encode_cmd,
    info_cmd,
    demo_cmd,
    compare_cmd,
    report_cmd,
    translate_cmd,
    theory_cmd,
):
    cli.add_command(module.command)
for app in (
    apps_cmd.embed,
    apps_cmd.denoise,
    apps_cmd.score,
    apps_cmd.pretrain,
    apps_cmd.components,
    latent_cmd.interpolate,
    latent_cmd.traverse,
    latent_cmd.arithmetic,
    latent_cmd.manipulate,
    latent_cmd.augment,
):
    cli.add_command(app)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM acts as Ctrl-C does: at once, and exits with 130


def main(argv: list[str] | None = None) -> int:
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    old = signal.signal(signal.SIGTERM, _interrupt)  # training puts its own handler over it
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, old)


def _main(argv: list[str] | None) -> int:

    try:
        result = cli.main(args=argv, prog_name="genzoo", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.NoArgsIsHelpError as e:
        click.echo(e.ctx.get_help())
        return 0
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx is not None else "genzoo"
        click.echo(
            f"{where}: error: {_one_line(e.format_message())} (see {where} --help)", err=True
        )
        return 2
    except click.ClickException as e:
        click.echo(f"genzoo: error: {_one_line(e.format_message())}", err=True)
        return 2
    except TrainingInterrupted as e:
        where = f"; checkpoint {e.checkpoint}, continue with --resume auto" if e.checkpoint else ""
        click.echo(f"genzoo: interrupted at step {e.step}{where}", err=True)
        return 130
    except Interrupted as e:
        click.echo(f"genzoo: interrupted {_one_line(e)}", err=True)
        return 130
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("genzoo: interrupted", err=True)
        return 130
    except GenzooError as e:
        click.echo(f"genzoo: error: {_one_line(e)}", err=True)
        return 2
    except BrokenPipeError:
        return 0
    except Exception:
        traceback.print_exc()
        click.echo(
            "genzoo: internal error (a bug in genzoo; please report it with the traceback above)",
            err=True,
        )
        return 1


def entry() -> None:
    sys.exit(main())
