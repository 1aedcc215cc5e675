"""The HTML report: self-contained, complete, and rendered by headless Chromium with every
image loaded and no console errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import genzoo
from genzoo.cli.main import main

CHECKER = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(
  String(e.message || (e.target && (e.target.src || e.target.href)) || 'error')), true);
document.addEventListener('securitypolicyviolation', e => window.__errors.push(
  'CSP blocked ' + e.blockedURI));
const origError = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); origError(...a); };
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;
  document.documentElement.setAttribute('data-check', JSON.stringify(
    {images: imgs.length, broken: broken, errors: window.__errors}));
});
</script>"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    rc = genzoo.build_run_config(
        "ae",
        data="digits",
        steps=200,
        device="cpu",
        overrides=[
            "train.sample_every=50",
            "train.eval_every=100",
            "train.batch_size=64",
            "model.latent_dim=6",
        ],
    )
    genzoo.train(rc, out=out, console=False)
    return out


def test_training_writes_metrics_and_a_self_contained_report(run):
    summary = json.loads((run / "summary.json").read_text())
    assert {"fid", "kid", "precision_recall", "recon"} <= set(summary["eval"])
    page = (run / "report.html").read_text()
    for section in (
        "Metrics",
        "Loss curves",
        "Samples during training",
        "Reconstructions",
        "Latent space",
        "Config",
        "floor (real vs real)",
        "sha256",
    ):
        assert section in page, section
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page)
    assert page.count("data:image/png;base64,") >= 7  # curves, 4 grids, recon, latent


def test_report_of_several_runs_has_a_comparison(run, tmp_path, capsys):
    out = tmp_path / "both.html"
    assert main(["report", str(run), str(run), "--out", str(out)]) == 0
    assert "Comparison" in out.read_text()
    assert main(["report", str(run), "--out", str(tmp_path / "x.pdf")]) == 2


def render(page: str, tmp_path: Path) -> tuple[dict, str]:
    """Load `page` in headless Chromium; returns what the checker saw, and Chromium's log."""
    browser = chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run should have installed it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("<head>", "<head>" + CHECKER, 1))
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"data-check=\"([^\"]*)\"", proc.stdout)
    assert found, f"the page did not finish loading:\n{proc.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"')), proc.stderr


def test_report_renders_in_headless_chromium(run, tmp_path):
    check, log = render((run / "report.html").read_text(), tmp_path)
    assert check["images"] >= 7 and check["broken"] == 0, check
    assert check["errors"] == [], check
    console_errors = [
        line
        for line in log.splitlines()
        if "CONSOLE" in line and ("ERROR" in line or "Uncaught" in line)
    ]
    assert console_errors == []


def test_the_page_policy_blocks_anything_not_embedded(run, tmp_path):
    """The checker itself can fail: an external image is refused and reported."""
    page = (run / "report.html").read_text()
    page = page.replace("</body>", '<img src="http://127.0.0.1:9/x.png" alt="external"></body>')
    check, _ = render(page, tmp_path)
    assert check["broken"] == 1 and any(
        "CSP blocked" in e or "x.png" in e for e in check["errors"]
    ), check


def test_log_axis_only_for_positive_values_spread_over_a_decade():
    from genzoo.viz.report import log_scale

    assert log_scale([0.05, 0.9, 3.2])  # losses
    assert not log_scale([9, 10, 10])  # classes covered
    assert not log_scale([-1.5, 20.0])  # critic values
    assert not log_scale([0.0, 5.0])


def test_a_costly_encoder_plots_an_evenly_spread_subset_of_the_codes():
    """A model with `report_latent_points` (a diffusion model inverts its sampler to encode)
    encodes only that many test examples for the latent plot, spread over the (class-sorted)
    split so that every class appears."""
    from types import SimpleNamespace

    import numpy as np
    import torch

    from genzoo.viz.report import latent_plot

    seen = []

    class Costly:  # the parts of the model contract a latent plot uses
        report_latent_points = 20

        def fast_options(self, method):
            return {}

        def labels_for(self, y, what):
            return None  # not conditional

        def to_model(self, x):
            return torch.as_tensor(x)

        def encode(self, x):
            seen.append(x.clone())
            return x[:, :2]

    y = np.repeat(np.arange(10), 30)  # sorted by class, like the bundled test splits
    x = np.stack([y, np.arange(300)], 1).astype(np.float32)
    data = SimpleNamespace(x_test=x, y_test=y, num_classes=10, classes=[str(i) for i in range(10)])
    assert latent_plot(Costly(), data) is not None
    codes = torch.cat(seen)
    assert len(codes) == 20
    assert set(codes[:, 0].long().tolist()) == set(range(10))
    Costly.report_latent_points = None  # the default: every example
    seen.clear()
    latent_plot(Costly(), data)
    assert len(torch.cat(seen)) == 300
