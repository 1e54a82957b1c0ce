"""Subclassed models that own their training procedure, one family per module."""

from keras_genai.models.autoencoder import Autoencoder
from keras_genai.models.gan import GAN, default_gan_optimizer
from keras_genai.models.vae import VAE

__all__ = ["Autoencoder", "GAN", "VAE", "default_gan_optimizer"]
