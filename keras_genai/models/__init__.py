"""Subclassed models that own their training procedure, one family per module."""

from keras_genai.models.autoencoder import Autoencoder
from keras_genai.models.conditional import CaptionGAN, ConditionalGAN, ConditionalVAE
from keras_genai.models.contrastive import ContrastiveModel
from keras_genai.models.feedback import DPO, PolicyGradient, RewardModel
from keras_genai.models.diffusion import ConditionalDiffusionModel, DiffusionModel
from keras_genai.models.gan import GAN, default_gan_optimizer
from keras_genai.models.gpt import GPT
from keras_genai.models.language import CharLanguageModel
from keras_genai.models.masked import MaskedLanguageModel
from keras_genai.models.seq2seq import Seq2Seq
from keras_genai.models.translation import Pix2Pix
from keras_genai.models.vae import VAE
from keras_genai.models.video import FramePredictor
from keras_genai.models.wavenet import WaveNet
from keras_genai.models.wgan import WGANGP, default_wgan_optimizer

__all__ = [
    "GAN", "VAE", "DiffusionModel", "ConditionalDiffusionModel", "WGANGP", "Autoencoder", "ConditionalGAN", "ConditionalVAE", "CaptionGAN", "ContrastiveModel", "CharLanguageModel", "Seq2Seq", "GPT", "MaskedLanguageModel", "Pix2Pix", "RewardModel", "DPO", "PolicyGradient", "FramePredictor", "WaveNet", "default_gan_optimizer",
    "default_wgan_optimizer",
]
