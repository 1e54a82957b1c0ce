"""keras_genai: a thin, tested Keras 3 package behind a course in generative deep learning."""

from keras_genai import _native_logs

_native_logs.filter_stderr()  # before TensorFlow loads: its import notices are the first lines to drop

from keras_genai import (
    callbacks, datasets, evaluation, export, layers, losses, models, nets, plotting, safety, sampling, tokenizers,
)
from keras_genai.config import is_offline, is_quick_run
from keras_genai.models import (
    GAN, GPT, VAE, WGANGP, Autoencoder, CaptionGAN, CharLanguageModel, ConditionalDiffusionModel, ConditionalGAN, ConditionalVAE,
    ContrastiveModel, DiffusionModel, DPO, FramePredictor, MaskedLanguageModel, Pix2Pix, PolicyGradient, RewardModel, Seq2Seq,
    WaveNet,
)

__version__ = "0.1.0"

__all__ = [
    "GAN", "GPT", "VAE", "WGANGP", "Autoencoder", "CaptionGAN", "CharLanguageModel", "ConditionalDiffusionModel", "ConditionalGAN",
    "ConditionalVAE", "ContrastiveModel", "DiffusionModel", "DPO", "FramePredictor", "MaskedLanguageModel", "Pix2Pix", "PolicyGradient",
    "RewardModel", "Seq2Seq", "WaveNet",
    "callbacks", "datasets", "evaluation", "export", "is_offline", "is_quick_run", "layers", "losses", "models", "nets",
    "plotting", "safety", "sampling", "tokenizers",
]
