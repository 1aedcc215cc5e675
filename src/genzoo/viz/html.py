"""The HTML page shell of genzoo's reports (the run report and the comparison): one
self-contained file, images embedded as data URIs, readable without a server; a content
security policy makes the browser refuse anything not embedded."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from PIL import Image

from ..atomic import atomic_write_text, replace_synced, temporary_beside
from ..metrics.evaluate import table as metric_rows

FEATURES_NOTE = (
    "Sample-quality metrics (FID, KID, precision/recall, density/coverage, class scores) are "
    "computed in the feature space of a small network genzoo trained on the data (a "
    "classifier of its classes, or a rotation task for unlabelled images), not Inception-v3: "
    'each names its network, e.g. "fid (mnist5k-cnn features)"; compare them only between '
    "results that name the same network (its sha256 is given). The floor is the same metric "
    "for real data alone (training examples against the test split, same N), the best a "
    "model can hope for."
)

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .7em;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.note{background:#f6f8fa;border-left:4px solid #888;padding:.6em 1em;font-size:.9em}
.prov{font-size:.85em;color:#555}figure{display:inline-block;margin:.5em;text-align:center}
figcaption{font-size:.85em;color:#555}pre{background:#f6f8fa;padding:1em;overflow:auto}
img{image-rendering:pixelated;max-width:100%}.wide{overflow-x:auto}
"""


CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def data_uri(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def figure(image: Image.Image, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{data_uri(image)}" alt="{html.escape(alt)}">{cap}</figure>'


def fig_to_image(fig) -> Image.Image:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def table(head: list[str], rows: list[list[str]]) -> str:
    """A plain table: a header row, then the rows (text, escaped here)."""
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        "<table><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr>"
        + cells
        + "</table>"
    )


def metrics_table(results: dict[str, Any]) -> str:
    rows, sources = metric_rows(results)
    cells = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td><td>{html.escape(f)}</td></tr>"
        for k, v, f in rows
    )
    prov = "".join(
        f"<li><b>{html.escape(names)}</b>: {html.escape(text)}</li>" for names, text in sources
    )
    return (
        "<table><tr><th>metric</th><th>value</th><th>floor (real vs real)</th></tr>"
        f"{cells}</table><ul class='prov'>{prov}</ul>"
    )


def notes_list(notes: list[str]) -> str:
    """What the evaluation could not do or cut, as a visible list."""
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"<div class='note'><b>Not measured, or measured on less:</b><ul>{items}</ul></div>"


def page(title: str, parts: list[str]) -> str:
    """The whole page: `parts` (HTML) under `title`."""
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )


def write_page(path: Path, title: str, parts: list[str]) -> Path:
    """`page(title, parts)` written to `path` whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, page(title, parts))
    return path


def save_png(image: Image.Image, path: Path) -> None:
    """A picture beside a page (for slides and documents), written whole or not at all."""
    tmp = temporary_beside(path)
    image.save(tmp, format="PNG", optimize=True)
    replace_synced(tmp, path)
