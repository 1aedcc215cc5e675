"""The conditional VAE (Sohn et al. 2015; Kingma et al. 2014's M2 with labels observed): the
encoder q(z|x, y) and the decoder p(x|z, y) both see the label y, one-hot. The code then need
not carry the class, and sampling chooses it: `sample(n, labels=...)`, `--labels` on the CLI.
Everything else, the ELBO included, is the VAE's; `log_likelihood` estimates log p(x|y).

MLP networks get the one-hot vector appended to their input; the convolutional encoder gets it
as constant extra channels, the decoder appended to z.
"""

from __future__ import annotations

from ..base import register_model
from ..conditional import LabelConditioned
from .vae import VAE, VAEConfig


@register_model("cvae", "conditional VAE: encoder and decoder see the label")
class CVAE(LabelConditioned, VAE):
    Config = VAEConfig
