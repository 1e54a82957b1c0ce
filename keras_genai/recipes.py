"""The full-run training settings of the package's image models, in one place.

Notebooks 02-06 and benchmarks/scoreboard.py read them from here, so the numbers a notebook
trains with and the numbers the scoreboard reports can never drift apart. Each recipe is a
frozen dataclass: the settings, plus `build()` for the compiled model (networks from the
package's builders with their default architecture) and `dataset()` for the training pipeline.

    recipe = recipes.dcgan()
    model = recipe.build()
    model.fit(recipe.dataset(data.x_train), epochs=recipe.epochs)

A quick run changes only what it must: `dataclasses.replace(recipe, epochs=1)`.
"""

import dataclasses
import inspect

import keras

from keras_genai import _checks, datasets, nets
from keras_genai.models import GAN, VAE, WGANGP, ConditionalDiffusionModel, ConditionalGAN, ConditionalVAE


def _default(builder, name):
    """A builder's default for one argument, so the recipe follows the builder."""
    return inspect.signature(builder).parameters[name].default


class _Recipe:
    """What every recipe shares: checks of the common settings and the data pipeline."""

    family = None  # the pixel range of the training data, a key of datasets.FAMILY_RANGES

    def __post_init__(self):
        for name in ("latent_dim", "epochs", "batch_size"):
            if hasattr(self, name):  # a diffusion model has no latent_dim
                _checks.check_positive_int(getattr(self, name), name)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")

    def dataset(self, images, labels=None, seed=0):
        """uint8 digits (n, 28, 28) -> the shuffled, batched training pipeline (of (images, labels)
        pairs when labels are given, as the conditional models need)."""
        return datasets.image_dataset(datasets.scale_images(images, self.family), self.batch_size, labels=labels,
                                      seed=seed)

    def _adam(self, beta_2=0.999):
        return keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1, beta_2=beta_2)


@dataclasses.dataclass(frozen=True)
class VAERecipe(_Recipe):
    """The default VAE (notebook 02): nets.vae_encoder / vae_decoder, a Bernoulli decoder, and
    Adam whose learning rate falls along a cosine from `learning_rate` to 5% of it.

    The schedule spans `epochs` epochs of `train_size` images (the 4,000-digit embedded
    split); set train_size to the number of training images when training on other data.
    """

    latent_dim: int = _default(nets.vae_encoder, "latent_dim")
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    beta: float = 1.0
    likelihood: str = "bernoulli"
    train_size: int = 4000
    family = "vae"  # pixel range of the training data: [0, 1]

    def __post_init__(self):
        _checks.check_positive_int(self.train_size, "train_size")
        super().__post_init__()

    def build(self, seed=0):
        encoder = nets.vae_encoder(datasets.IMAGE_SHAPE, self.latent_dim)
        decoder = nets.vae_decoder(self.latent_dim, datasets.IMAGE_SHAPE)
        return self._compiled(VAE(encoder, decoder, beta=self.beta, likelihood=self.likelihood, seed=seed))

    def _compiled(self, model):
        steps = self.epochs * max(1, self.train_size // self.batch_size)
        schedule = keras.optimizers.schedules.CosineDecay(self.learning_rate, steps, alpha=0.05)
        model.compile(keras.optimizers.Adam(schedule))
        return model


@dataclasses.dataclass(frozen=True)
class ConditionalVAERecipe(VAERecipe):
    """The default VAE's networks and training, with the label as an input of both (notebook 06).

    20 epochs rather than the VAE's 40, so that notebook 06 can train it and an unconditional VAE
    with the same settings (dataclasses.replace(recipes.vae(), epochs=20)) within its time budget.
    """

    epochs: int = 20
    num_classes: int = 10

    def build(self, seed=0):
        encoder = nets.vae_encoder(datasets.IMAGE_SHAPE, self.latent_dim, num_classes=self.num_classes)
        decoder = nets.vae_decoder(self.latent_dim, datasets.IMAGE_SHAPE, num_classes=self.num_classes)
        return self._compiled(ConditionalVAE(encoder, decoder, self.num_classes, beta=self.beta,
                                             likelihood=self.likelihood, seed=seed))


@dataclasses.dataclass(frozen=True)
class GANRecipe(_Recipe):
    """A GAN with the non-saturating loss and two Adam optimizers (notebooks 03 and 04).

    architecture: "mlp" (nets.mlp_generator / mlp_discriminator) or "dcgan" (nets.dcgan_*).
    """

    architecture: str = "dcgan"
    latent_dim: int = _default(nets.dcgan_generator, "latent_dim")
    epochs: int = 25
    batch_size: int = 64
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    loss: str = "non_saturating"
    family = "gan"  # pixel range of the training data: [-1, 1] (tanh generator)

    def __post_init__(self):
        _checks.check_choice(self.architecture, {"mlp", "dcgan"}, "architecture")
        super().__post_init__()

    def build(self, seed=0):
        if self.architecture == "dcgan":
            generator = nets.dcgan_generator(self.latent_dim, datasets.IMAGE_SHAPE)
            discriminator = nets.dcgan_discriminator(datasets.IMAGE_SHAPE)
        else:
            generator = nets.mlp_generator(self.latent_dim, datasets.IMAGE_SHAPE)
            discriminator = nets.mlp_discriminator(datasets.IMAGE_SHAPE)
        model = GAN(generator, discriminator, seed=seed)
        model.compile(self._adam(), self._adam(), loss=self.loss)
        return model


@dataclasses.dataclass(frozen=True)
class WGANGPRecipe(_Recipe):
    """WGAN-GP on digits (notebook 05): the DCGAN generator, the DCGAN discriminator as the critic
    (it has no BatchNorm), n_critic critic steps per generator step, Adam(beta_2 = 0.9) for both."""

    latent_dim: int = _default(nets.dcgan_generator, "latent_dim")
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 5e-4
    beta_1: float = 0.5
    beta_2: float = 0.9
    n_critic: int = 3
    gp_weight: float = 10.0
    family = "gan"

    def build(self, seed=0):
        model = WGANGP(nets.dcgan_generator(self.latent_dim, datasets.IMAGE_SHAPE),
                       nets.dcgan_discriminator(datasets.IMAGE_SHAPE), n_critic=self.n_critic,
                       gp_weight=self.gp_weight, seed=seed)
        model.compile(self._adam(self.beta_2), self._adam(self.beta_2))
        return model


@dataclasses.dataclass(frozen=True)
class ConditionalGANRecipe(_Recipe):
    """A class-conditional DCGAN (notebook 06): the default DCGAN networks with the one-hot label
    joining z, and a projection (or concat) discriminator; non-saturating loss, two Adams."""

    latent_dim: int = _default(nets.dcgan_generator, "latent_dim")
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    conditioning: str = "projection"
    num_classes: int = 10
    family = "gan"

    def __post_init__(self):
        _checks.check_choice(self.conditioning, nets.CONDITIONINGS, "conditioning")
        super().__post_init__()

    def build(self, seed=0):
        generator = nets.dcgan_generator(self.latent_dim, datasets.IMAGE_SHAPE, num_classes=self.num_classes)
        discriminator = nets.dcgan_discriminator(datasets.IMAGE_SHAPE, num_classes=self.num_classes,
                                                 conditioning=self.conditioning)
        model = ConditionalGAN(generator, discriminator, self.num_classes, seed=seed)
        model.compile(self._adam(), self._adam())
        return model


@dataclasses.dataclass(frozen=True)
class DiffusionRecipe(_Recipe):
    """The class-conditional diffusion model of notebook 18: nets.unet(widths) with attention at 7x7,
    Adam at a constant rate, an EMA of the weights for sampling, 10% of the labels dropped for
    classifier-free guidance. It trains for a budget of `seconds` of wall-clock time (callbacks.TimeLimit),
    `epochs` being only an upper bound: a diffusion model improves for far longer than a CPU notebook
    can wait, so the budget is the setting that matters."""

    widths: tuple = (16, 32, 64)
    seconds: float = 270.0
    epochs: int = 10_000
    batch_size: int = 64
    learning_rate: float = 1e-3
    ema_decay: float = 0.995  # a short run: 0.999 still averages in the first few hundred steps
    label_dropout: float = 0.1
    num_classes: int = 10
    sampler: str = "ddpm"  # after a short run, ancestral sampling scored a far lower FID than DDIM (notebook 18)
    family = "gan"  # pixels in [-1, 1], the scale of the unit-variance noise

    def __post_init__(self):
        if not self.seconds > 0:
            raise ValueError(f"seconds must be positive, got {self.seconds}")
        super().__post_init__()

    def build(self, seed=0):
        network = nets.unet(datasets.IMAGE_SHAPE, widths=self.widths, attention=True, num_classes=self.num_classes)
        model = ConditionalDiffusionModel(network, self.num_classes, label_dropout=self.label_dropout,
                                          ema_decay=self.ema_decay, seed=seed)
        model.compile(keras.optimizers.Adam(self.learning_rate))
        return model


def vae():
    """The default VAE of notebook 02."""
    return VAERecipe()


def mlp_gan():
    """The MLP GAN of notebook 03 (the source documents' model, done right)."""
    return GANRecipe(architecture="mlp", latent_dim=64, epochs=60, batch_size=64, learning_rate=5e-4)


def dcgan():
    """The default DCGAN of notebook 04: 120 epochs of the 4,000 embedded digits, 7,440 steps or
    about 4.5 minutes on a quiet 2-core CPU. Its FID is still falling then (the time-to-quality
    race of benchmarks/scoreboard_results.md); a decaying learning rate made it stall earlier
    and higher, so the rate stays constant."""
    return GANRecipe(architecture="dcgan", epochs=120)


def wgan_gp():
    """The WGAN-GP of notebook 05."""
    return WGANGPRecipe()


def conditional_gan():
    """The class-conditional DCGAN of notebook 06 (projection discriminator)."""
    return ConditionalGANRecipe()


def diffusion():
    """The class-conditional diffusion model of notebook 18."""
    return DiffusionRecipe()


def conditional_vae():
    """The conditional VAE of notebook 06: the default VAE recipe with labels."""
    return ConditionalVAERecipe()
