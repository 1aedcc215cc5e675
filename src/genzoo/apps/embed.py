"""Embeddings: the model's codes in 2-D, beside PCA of the raw data for comparison.

Codes wider than 2 are reduced with t-SNE (van der Maaten & Hinton 2008, scikit-learn).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..viz.html import fig_to_image


def to_2d(z: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> tuple[np.ndarray, str]:
    if z.shape[1] == 2:
        return z, "codes"
    if z.shape[1] == 1:
        return np.concatenate([z, np.zeros_like(z)], 1), "codes"
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, (len(z) - 1) / 3)
    tsne = TSNE(2, init="pca", random_state=seed, perplexity=perplexity)
    return tsne.fit_transform(z), "t-SNE of the codes"


def embedding_plot(
    z: np.ndarray, raw: np.ndarray, y: np.ndarray | None, classes: list[str] | None, seed: int = 0
) -> Image.Image:
    """Two panels: the codes in 2-D, and PCA of the raw data, coloured by label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    left, title = to_2d(z, seed)
    right = PCA(2, random_state=seed).fit_transform(raw.reshape(len(raw), -1))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, pts, name in ((axes[0], left, title), (axes[1], right, "PCA of the raw data")):
        if y is not None:
            sc = ax.scatter(
                pts[:, 0],
                pts[:, 1],
                c=y,
                s=5,
                alpha=0.8,
                cmap="tab10" if len(classes or []) <= 10 else "viridis",
            )
            if classes and len(classes) <= 10:
                handles, _ = sc.legend_elements()
                present = [classes[i] for i in np.unique(y)]
                ax.legend(handles, present, fontsize=7, markerscale=0.8)
        else:
            ax.scatter(pts[:, 0], pts[:, 1], s=5, alpha=0.8)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig_to_image(fig)
