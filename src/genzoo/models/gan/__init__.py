"""GANs: the two-phase game and its stabilisers; losses as pure functions in `losses.py`."""

from . import cgan, cyclegan, dcgan, gan, pix2pix, progan, stylegan, wgan  # noqa: F401  (registers the models)
