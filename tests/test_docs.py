"""What a newcomer reads first: every genzoo command in the README, the guides in docs/ and the
commands' own --help examples parses, with its --set fields checked against the configs; the
README's first commands run as written; every link and picture of the guides resolves."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import click
import pytest

from genzoo.cli.main import cli, main
from genzoo.run import build_run_config

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GUIDES = [
    "autoencoders", "vaes", "gans", "diffusion", "joined", "applications", "your-data", "theory",
]  # fmt: skip


def code_lines(text: str) -> list[str]:
    """The lines of the page's bash blocks, backslash continuations joined."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            lines.append(line.strip())
    return lines


def genzoo_args(line: str, anywhere: bool = False) -> list[str] | None:
    """The arguments after `genzoo` (or `-m genzoo` under torchrun; `anywhere` in a script's
    line), comments dropped."""
    # a synopsis marks optional parts [--like this]: parse them as given
    words = shlex.split(re.sub(r"\[(--[^]]*)\]", r"\1", line), comments=True)
    for end, w in enumerate(words):  # what follows a redirection or pipe is the shell's
        if w in (">", ">>", "|", "&&", ";"):
            words = words[:end]
            break
    for i, w in enumerate(words):
        if w == "genzoo" and (i == 0 or words[i - 1] == "-m" or anywhere):
            return words[i + 1 :]
    return None


def help_examples() -> list[tuple[str, str]]:
    """(command, line) of every `genzoo ...` line in the Examples of every command's --help."""
    out = []
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        text = cli.get_command(ctx, name).help or ""
        assert "Examples:" in text, f"genzoo {name} --help has no examples"
        examples = text[text.index("Examples:") :].replace("\\\n", " ")
        for line in examples.splitlines():
            line = line.strip()
            if line.startswith("genzoo ") or " -m genzoo " in line:
                out.append((name, line))
    return out


def commands() -> list:
    out = []
    for page in PAGES:
        for line in code_lines(page.read_text()):
            if genzoo_args(line) is not None:
                out.append(pytest.param(line, False, id=f"{page.name}: {line[:70]}"))
    for name, line in help_examples():
        out.append(pytest.param(line, False, id=f"--help of {name}: {line[:70]}"))
    script = (ROOT / "docs" / "figures.sh").read_text().replace("\\\n", " ")
    for line in script.splitlines():
        if re.search(r"(^|\s)genzoo\s", line.split("#")[0]):  # not in comments
            out.append(pytest.param(line, True, id=f"figures.sh: {line.strip()[:70]}"))
    return out


def parse(args: list[str]) -> click.Context:
    """Parse as the command line would, without running: options, types and callbacks."""
    parent = click.Context(cli, info_name="genzoo")
    cmd = cli.get_command(parent, args[0])
    assert cmd is not None, f"no command {args[0]!r}"
    return cmd.make_context(args[0], list(args[1:]), parent=parent)


def test_the_pages_hold_the_commands_they_should():
    assert len(commands()) > 150  # README, five guides and the --help examples
    for guide in GUIDES:
        assert any(genzoo_args(x) for x in code_lines((ROOT / "docs" / f"{guide}.md").read_text()))


@pytest.mark.parametrize("line,script", commands())
def test_every_documented_command_parses_and_its_settings_exist(line, script, monkeypatch):
    import torch

    with monkeypatch.context() as m:  # parsed as where --device cuda is
        m.setattr(torch.cuda, "is_available", lambda: True)
        ctx = parse(genzoo_args(line, anywhere=script))
    params = ctx.params
    if ctx.command.name == "train" and not params.get("print_config"):
        # the --set fields exist and take their values, for this model and data
        build_run_config(
            params["model"], config_file=None, overrides=params["overrides"], data=params["data"]
        )


def test_a_misspelt_option_or_field_would_fail():
    with pytest.raises(click.UsageError):
        parse(["train", "ae", "--stepz", "10"])
    from genzoo.errors import GenzooError

    with pytest.raises(GenzooError, match="model.latent_dimm"):
        ctx = parse(["train", "ae", "--set", "model.latent_dimm=3"])
        build_run_config("ae", overrides=ctx.params["overrides"], data="mnist5k")


def test_the_readme_first_commands_run_as_written(tmp_path, monkeypatch):
    """The README's "Command line" block, in a fresh folder, with fewer training steps."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Command line") :]
    lines = [x for x in code_lines(block[: block.index("\n## ", 5)]) if genzoo_args(x)]
    lines = [x for x in lines if " --print-config" not in x][:8]
    assert [genzoo_args(x)[0] for x in lines] == [
        "list", "train", "sample", "reconstruct", "encode", "eval", "report", "info",
    ]  # fmt: skip
    monkeypatch.chdir(tmp_path)
    for line in lines:
        args = [("100" if a == "2000" else a) for a in genzoo_args(line)]  # --steps 2000
        args = [a for a in args if a != "runs/other"]  # report: the one run there is
        assert main(args) == 0, line
    assert (tmp_path / "samples.png").is_file() and (tmp_path / "compare.html").is_file()


def theory_lines() -> list:
    text = (ROOT / "docs" / "theory.md").read_text()
    lines = [x for x in code_lines(text) if (genzoo_args(x) or [""])[0] == "theory"]
    return [pytest.param(x, id=x[:70]) for x in lines]


@pytest.mark.parametrize("line", theory_lines())
def test_the_theory_guide_commands_run_and_their_checks_pass(line, tmp_path, monkeypatch, capsys):
    """Each experiment of docs/theory.md runs as written: exit code 0 means every check against
    its closed form passed; its figure or numbers are written."""
    monkeypatch.chdir(tmp_path)
    args = genzoo_args(line)
    assert main(args) == 0, line
    out = capsys.readouterr().out
    if "--out" in args:
        assert (tmp_path / args[args.index("--out") + 1]).stat().st_size > 10_000
    if "--json" in args:
        assert json.loads(out)["ok"] is True
    if args[1:] == ["list"]:  # every experiment the guide shows is listed
        for name in {genzoo_args(p.values[0])[1] for p in theory_lines()} - {"list"}:
            assert f"  {name} " in out, name


def test_the_theory_guide_shows_every_experiment():
    from genzoo.registry import EXPERIMENTS

    shown = {genzoo_args(p.values[0])[1] for p in theory_lines()}
    assert set(EXPERIMENTS.names()) <= shown
    text = (ROOT / "docs" / "theory.md").read_text()
    for name in EXPERIMENTS.names():
        assert f"figures/theory-{name}.png" in text, name


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_and_picture_resolves(page):
    for link in links(page):
        if link.startswith(("http://", "https://")):
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: {link}"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target), f"{page.name}: {link}"
        if target.suffix == ".png":  # committed pictures stay small
            assert target.stat().st_size < 400_000, f"{target.name} is too large to commit"


def test_every_guide_has_equations_commands_and_pictures_genzoo_made():
    for guide in GUIDES:
        text = (ROOT / "docs" / f"{guide}.md").read_text()
        pictures = [x for x in links(ROOT / "docs" / f"{guide}.md") if x.endswith(".png")]
        assert pictures, guide
        if guide != "applications":
            assert "$$" in text, f"{guide}: no equation"
    readme = (ROOT / "README.md").read_text()
    for guide in GUIDES:
        assert f"docs/{guide}.md" in readme
    assert "](docs/figures/" in readme
