"""Network builders: plain functions that return `keras.Model`s. No training logic here.

Every builder checks the shape arithmetic when it builds (e.g. a DCGAN generator for
28x28 images starts at 7x7 and doubles twice: 7 -> 14 -> 28), so a wrong design fails
with a sentence instead of a mismatched tensor at training time.
"""

import math

import keras
from keras import layers

from keras_genai import _checks
from keras_genai.layers import Framewise

# The output layer of an image generator computes in float32 under a mixed-precision policy too:
# a float16 sigmoid or tanh saturates at exactly 0 or 1 (gradient 0) long before a float32 one does.
OUTPUT_DTYPE = "float32"


def _check_image_shape(image_shape, n_halvings, name="image_shape"):
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(f"{name} must be (height, width, channels), got {image_shape}")
    factor = 2**n_halvings
    height, width, _ = image_shape
    if height % factor or width % factor:
        raise ValueError(
            f"{name} {image_shape}: height and width must be divisible by {factor} "
            f"for {n_halvings} stride-2 layers"
        )
    return image_shape


def _check_output(model, expected):
    got = tuple(model.output_shape[1:])
    if got != tuple(expected):  # a guard on this module's own arithmetic
        raise AssertionError(f"{model.name} produces {got}, expected {tuple(expected)}")
    return model


def _label_input(num_classes):
    """An integer class-index input of shape (batch,), and its one-hot encoding."""
    num_classes = _checks.check_positive_int(num_classes, "num_classes")
    label = keras.Input((), dtype="int32", name="label")
    return label, layers.CategoryEncoding(num_classes, output_mode="one_hot", name="one_hot_label")(label)


def _caption_input(vocab_size, units=64):
    """A caption input of token ids (batch, length), padding id 0, and the vector a GRU reads from it.

    The caption encoder is part of the network that uses it and trains with it: the words only
    come to mean "thick" or "seven" through the generator's and the discriminator's losses.
    """
    vocab_size = _checks.check_positive_int(vocab_size, "caption_vocab")
    caption = keras.Input((None,), dtype="int32", name="caption")
    h = layers.Embedding(vocab_size, 32, mask_zero=True, name="caption_embedding")(caption)
    return caption, layers.GRU(units, name="caption_gru")(h)


def _with_label(inputs, num_classes, caption_vocab=None):
    """The network inputs: `inputs` alone, or [inputs, condition] with the condition's vector to
    concatenate: a one-hot class label (num_classes) or an encoded caption (caption_vocab)."""
    if num_classes is not None and caption_vocab is not None:
        raise ValueError("a network is conditioned on a class label (num_classes) or a caption (caption_vocab), not both")
    if caption_vocab is not None:
        caption, vector = _caption_input(caption_vocab)
        return [inputs, caption], vector
    if num_classes is None:
        return inputs, None
    label, one_hot = _label_input(num_classes)
    return [inputs, label], one_hot


def mlp_generator(latent_dim, output_shape, hidden=(256, 512), output_activation="tanh", name="generator"):
    """z -> Dense layers -> an output of `output_shape` (an image or a 2-D point)."""
    latent_dim = _checks.check_positive_int(latent_dim, "latent_dim")
    output_shape = tuple(output_shape)
    z = keras.Input((latent_dim,), name="z")
    h = z
    for units in hidden:
        h = layers.Dense(units)(h)
        h = layers.LeakyReLU(0.2)(h)
    h = layers.Dense(math.prod(output_shape), activation=output_activation, dtype=OUTPUT_DTYPE)(h)
    out = layers.Reshape(output_shape)(h)
    return _check_output(keras.Model(z, out, name=name), output_shape)


def mlp_discriminator(input_shape, hidden=(512, 256), dropout=0.0, name="discriminator"):
    """x -> Dense layers -> one logit (no sigmoid: losses work on logits)."""
    x = keras.Input(tuple(input_shape), name="x")
    h = layers.Flatten()(x)
    for units in hidden:
        h = layers.Dense(units)(h)
        h = layers.LeakyReLU(0.2)(h)
        if dropout:
            h = layers.Dropout(dropout)(h)
    logit = layers.Dense(1, name="logit")(h)
    return keras.Model(x, logit, name=name)


# The default DCGAN is small on purpose: on a CPU the generator's transposed convolutions
# cost most of a training step, and at equal numbers of steps a generator with (64, 32)
# filters drew digits as well as one with (128, 64) in our runs on the 4,000 embedded digits,
# at about half the time per step. Dropout in the discriminator only slowed learning.
# benchmarks/dcgan_benchmark.py measures the result against the TensorFlow DCGAN tutorial.

def _check_filters(filters, kernel_size):
    filters = tuple(filters)
    if not filters or any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in filters):
        raise ValueError(f"filters must be a non-empty sequence of positive integers, got {filters!r}")
    return filters, _checks.check_positive_int(kernel_size, "kernel_size")


def dcgan_generator(latent_dim=64, image_shape=(28, 28, 1), filters=(64, 32), kernel_size=4, num_classes=None,
                    batchnorm=True, synchronized_batchnorm=False, caption_vocab=None, name="generator"):
    """DCGAN generator: Dense -> reshape to (h/2^k, w/2^k, filters[0]) -> k stride-2
    transposed convolutions with BatchNorm + ReLU -> tanh image in [-1, 1].

    k = len(filters); each transposed convolution doubles the side (7 -> 14 -> 28), so the
    image height and width must be divisible by 2^k (three layers from 7x7 would give 56x56).
    kernel_size 4 is divisible by the stride 2, which avoids checkerboard artefacts.
    num_classes: a conditional generator taking [z, label]; the one-hot label is concatenated
    to z, so every layer can use it (Mirza & Osindero 2014). caption_vocab: a text-conditioned
    generator taking [z, caption ids], the caption read by its own GRU (a CaptionGAN's).
    batchnorm=False drops the BatchNorm layers (and gives the layers their biases back): the
    DCGAN paper credits BatchNorm with keeping the generator from collapsing, which notebook 05
    tests by taking it away.
    synchronized_batchnorm: under tf.distribute, BatchNorm computes its batch statistics over
    the global batch instead of each replica's share (slower: one all-reduce per layer).
    """
    latent_dim = _checks.check_positive_int(latent_dim, "latent_dim")
    filters, kernel_size = _check_filters(filters, kernel_size)
    height, width, channels = _check_image_shape(image_shape, len(filters))
    factor = 2 ** len(filters)
    start = (height // factor, width // factor, filters[0])
    z = keras.Input((latent_dim,), name="z")
    inputs, one_hot = _with_label(z, num_classes, caption_vocab)
    h = z if one_hot is None else layers.Concatenate()([z, one_hot])

    def normalized(h):
        if batchnorm:
            h = layers.BatchNormalization(synchronized=synchronized_batchnorm)(h)
        return layers.ReLU()(h)

    h = normalized(layers.Dense(math.prod(start), use_bias=not batchnorm)(h))  # BatchNorm's beta is the bias
    h = layers.Reshape(start)(h)
    for f in filters[1:]:
        h = normalized(layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same", use_bias=not batchnorm)(h))
    image = layers.Conv2DTranspose(channels, kernel_size, strides=2, padding="same", activation="tanh",
                                   dtype=OUTPUT_DTYPE)(h)
    return _check_output(keras.Model(inputs, image, name=name), (height, width, channels))


CONDITIONINGS = {"projection", "concat"}


def dcgan_discriminator(image_shape=(28, 28, 1), filters=(32, 64), kernel_size=4, dropout=0.0, num_classes=None,
                        conditioning="projection", caption_vocab=None, name="discriminator"):
    """DCGAN discriminator: stride-2 convolutions with LeakyReLU(0.2) -> one logit.

    Also the WGAN-GP critic (it has no BatchNorm). num_classes: a conditional discriminator
    taking [image, label], with the label entering by `conditioning`:
    "projection" (Miyato & Koyama 2018): logit = w . phi(x) + b + embed(y) . phi(x), where phi(x)
        are the last features. The label asks "does x have the features of class y" at the
        end, where the features are most class-specific, for 10 x len(phi) weights.
    "concat": a learned (height, width) map per label joins the image as an extra input
        channel, so the first convolution sees it (keras-io's conditional_gan example instead
        repeats the one-hot vector as num_classes constant channels).
    caption_vocab: conditioned on [image, caption ids] instead, the caption's GRU vector taking the
    one-hot label's place (projection: "does x have the features this caption describes").
    """
    filters, kernel_size = _check_filters(filters, kernel_size)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    image_shape = _check_image_shape(image_shape, len(filters))
    _checks.check_choice(conditioning, CONDITIONINGS, "conditioning")
    x = keras.Input(image_shape, name="image")
    inputs, one_hot = _with_label(x, num_classes, caption_vocab)
    h = x
    if one_hot is not None and conditioning == "concat":
        label_map = layers.Dense(image_shape[0] * image_shape[1], name="label_map")(one_hot)
        h = layers.Concatenate()([x, layers.Reshape((*image_shape[:2], 1))(label_map)])
    for f in filters:
        h = layers.Conv2D(f, kernel_size, strides=2, padding="same")(h)
        h = layers.LeakyReLU(0.2)(h)
        if dropout:
            h = layers.Dropout(dropout)(h)
    features = layers.Flatten()(h)
    logit = layers.Dense(1, name="logit")(features)
    if one_hot is not None and conditioning == "projection":
        class_embedding = layers.Dense(features.shape[-1], use_bias=False, name="class_embedding")(one_hot)
        logit = layers.Add(name="projected_logit")([logit, layers.Dot(axes=1)([class_embedding, features])])
    return keras.Model(inputs, logit, name=name)


def conv_encoder(image_shape=(28, 28, 1), latent_dim=2, filters=(32, 64), dense=128, variational=True,
                 convs_per_level=1, num_classes=None, name="encoder"):
    """Image -> stride-2 convolutions -> Dense -> z, or [z_mean, z_log_var] if variational.

    convs_per_level=2 follows each stride-2 convolution with a 3x3 stride-1 one of the same
    width (more depth for few weights); dense=0 drops the hidden Dense layer.
    The log-variance is an unconstrained real number; exp() makes the variance positive.
    num_classes: a conditional encoder q(z | x, y) taking [image, label]; the one-hot label
    joins the flattened convolutional features.
    """
    latent_dim = _checks.check_positive_int(latent_dim, "latent_dim")
    convs_per_level = _checks.check_positive_int(convs_per_level, "convs_per_level")
    image_shape = _check_image_shape(image_shape, len(filters))
    x = keras.Input(image_shape, name="image")
    inputs, one_hot = _with_label(x, num_classes)
    h = x
    for f in filters:
        h = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(h)
        for _ in range(convs_per_level - 1):
            h = layers.Conv2D(f, 3, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    if one_hot is not None:
        h = layers.Concatenate()([h, one_hot])
    if dense:
        h = layers.Dense(dense, activation="relu")(h)
    if not variational:
        return keras.Model(inputs, layers.Dense(latent_dim, name="z")(h), name=name)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def conv_decoder(latent_dim=2, image_shape=(28, 28, 1), filters=(64, 32), dense=128, output_activation="sigmoid",
                 convs_per_level=1, num_classes=None, name="decoder"):
    """z -> Dense -> reshape -> stride-2 transposed convolutions -> image.

    convs_per_level=2 follows each transposed convolution with a 3x3 stride-1 convolution of
    the same width; dense=0 drops the hidden Dense layer (z goes straight to the first grid).
    output_activation="sigmoid" for an autoencoder in [0, 1]; None (logits) for a VAE,
    whose likelihood turns the logits into Bernoulli probabilities or Gaussian means.
    num_classes: a conditional decoder p(x | z, y) taking [z, label]; the one-hot label is
    concatenated to z.
    """
    latent_dim = _checks.check_positive_int(latent_dim, "latent_dim")
    convs_per_level = _checks.check_positive_int(convs_per_level, "convs_per_level")
    height, width, channels = _check_image_shape(image_shape, len(filters))
    factor = 2 ** len(filters)
    start = (height // factor, width // factor, filters[0])
    z = keras.Input((latent_dim,), name="z")
    inputs, one_hot = _with_label(z, num_classes)
    h = z if one_hot is None else layers.Concatenate()([z, one_hot])
    if dense:
        h = layers.Dense(dense, activation="relu")(h)
    h = layers.Dense(math.prod(start), activation="relu")(h)
    h = layers.Reshape(start)(h)
    for f in filters:
        h = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(h)
        for _ in range(convs_per_level - 1):
            h = layers.Conv2D(f, 3, padding="same", activation="relu")(h)
    image = layers.Conv2D(channels, 3, padding="same", activation=output_activation, name="pixels",
                          dtype=OUTPUT_DTYPE)(h)
    return _check_output(keras.Model(inputs, image, name=name), (height, width, channels))


# The package's default VAE networks (notebook 02, recipes.vae(), the benchmarks), chosen on a
# validation split of the 4,000 embedded training digits: dropping the hidden Dense layers (which
# hold most of the weights and overfit 4,000 images) and adding a stride-1 convolution after each
# stride-2 one lowered the validation negative ELBO by several nats in our runs, with fewer weights.
# benchmarks/vae_benchmark.py measures the result against the Keras example's VAE.

def vae_encoder(image_shape=(28, 28, 1), latent_dim=32, num_classes=None, name="encoder"):
    """The default VAE encoder: image -> 2 x (stride-2 conv, conv) with 32, 64 filters -> [z_mean, z_log_var]
    (num_classes: also the label, for a ConditionalVAE)."""
    return conv_encoder(image_shape, latent_dim, filters=(32, 64), dense=0, convs_per_level=2,
                        num_classes=num_classes, name=name)


def vae_decoder(latent_dim=32, image_shape=(28, 28, 1), num_classes=None, name="decoder"):
    """The default VAE decoder: z -> 7x7x64 -> 2 x (stride-2 transposed conv, conv) with 64, 32 filters -> logits
    (num_classes: also the label, for a ConditionalVAE)."""
    return conv_decoder(latent_dim, image_shape, filters=(64, 32), dense=0, output_activation=None,
                        convs_per_level=2, num_classes=num_classes, name=name)


# --- The diffusion model's denoiser ------------------------------------------------------------

def _residual_block(h, width, embedding, groups, name):
    """GroupNorm -> swish -> conv, plus a per-channel shift from the time (and label) embedding,
    twice, around a skip connection (Ho et al. 2020, after Wide ResNets)."""
    skip = h if h.shape[-1] == width else layers.Conv2D(width, 1, name=f"{name}_skip")(h)
    h = layers.Activation("swish")(layers.GroupNormalization(min(groups, h.shape[-1]), name=f"{name}_norm1")(h))
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv1")(h)
    shift = layers.Dense(width, name=f"{name}_time")(embedding)
    h = layers.Add()([h, layers.Reshape((1, 1, width))(shift)])
    h = layers.Activation("swish")(layers.GroupNormalization(min(groups, width), name=f"{name}_norm2")(h))
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(h)
    return layers.Add()([skip, h])


def _attention_block(h, groups, heads, name):
    """Self-attention over the pixels of a (small) feature map, with a residual connection."""
    height, width, channels = h.shape[1:]
    seq = layers.Reshape((height * width, channels))(layers.GroupNormalization(min(groups, channels),
                                                                              name=f"{name}_norm")(h))
    seq = layers.MultiHeadAttention(heads, channels // heads, name=f"{name}_mha")(seq, seq)
    return layers.Add()([h, layers.Reshape((height, width, channels))(seq)])


def unet(image_shape=(28, 28, 1), widths=(32, 64, 64), attention=True, num_classes=None, groups=8, heads=4,
         name="unet"):
    """The denoiser eps(x_t, t[, y]) of a diffusion model: a U-Net (Ronneberger et al. 2015) in DDPM's form.

    Inputs [noisy image (b, h, w, c), time t in [0, 1] (b,)] or, with num_classes, also an integer label
    (b,) in [0, num_classes]: the extra index num_classes means "no label", which classifier-free guidance
    trains on and samples with. Output: the predicted noise, same shape as the image (linear).
    Each level has one residual block at width widths[i]; the encoder halves the side between levels
    (28 -> 14 -> 7), the decoder doubles it back, concatenating the encoder's features of the same size
    (the skips carry the detail the bottleneck cannot). attention: self-attention at the lowest
    resolution, where a 7x7 map makes it cheap. The time (and label) enters every block as a learned
    per-channel shift of a shared embedding.
    """
    widths, _ = _check_filters(widths, 3)
    height, width_px, channels = _check_image_shape(image_shape, len(widths) - 1)
    if any(w % min(groups, w) for w in widths):
        raise ValueError(f"every width must be divisible by groups={groups}, got widths {widths}")
    if attention and widths[-1] % heads:
        raise ValueError(f"the last width ({widths[-1]}) must be divisible by heads={heads} for attention")
    from keras_genai.layers import TimeEmbedding  # layers imports nothing from here; keep the module order free

    image = keras.Input(image_shape, name="noisy_image")
    time = keras.Input((), name="time")
    inputs = [image, time]
    embedding_dim = 4 * widths[0]
    embedding = TimeEmbedding(widths[0], name="time_features")(time)
    embedding = layers.Dense(embedding_dim, activation="swish", name="time_dense1")(embedding)
    embedding = layers.Dense(embedding_dim, name="time_dense2")(embedding)
    if num_classes is not None:
        num_classes = _checks.check_positive_int(num_classes, "num_classes")
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        # N(0, 1) rows, as large as the time features: with Keras' default (uniform +-0.05) the labels were
        # still nearly ignored after a thousand steps, and guided samples near chance label accuracy.
        label_vector = layers.Embedding(num_classes + 1, embedding_dim, name="label_embedding",
                                        embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))(label)
        embedding = layers.Add(name="time_and_label")([embedding, label_vector])
    embedding = layers.Activation("swish")(embedding)

    h = layers.Conv2D(widths[0], 3, padding="same", name="stem")(image)
    skips = []
    for level, width in enumerate(widths):
        h = _residual_block(h, width, embedding, groups, f"down{level}")
        if level < len(widths) - 1:
            skips.append(h)
            h = layers.Conv2D(width, 3, strides=2, padding="same", name=f"downsample{level}")(h)
    if attention:
        h = _attention_block(h, groups, heads, "middle_attention")
    h = _residual_block(h, widths[-1], embedding, groups, "middle")
    for level in reversed(range(len(widths) - 1)):
        h = layers.UpSampling2D(2, interpolation="nearest")(h)
        h = layers.Conv2D(widths[level], 3, padding="same", name=f"upsample{level}")(h)
        h = layers.Concatenate()([h, skips[level]])
        h = _residual_block(h, widths[level], embedding, groups, f"up{level}")
    h = layers.Activation("swish")(layers.GroupNormalization(min(groups, widths[0]), name="out_norm")(h))
    noise = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros", name="noise")(h)
    return _check_output(keras.Model(inputs, noise, name=name), (height, width_px, channels))


# --- Contrastive learning ----------------------------------------------------------------------

def contrastive_encoder(image_shape=(28, 28, 1), widths=(32, 64), feature_dim=128, name="encoder"):
    """Image -> a stride-2 3x3 convolution per width (28 -> 14 -> 7) -> a 3x3 convolution to feature_dim
    channels -> global average pooling: the representation h, shape (feature_dim,).

    Pooling over positions makes h depend on what is in the image more than on where it is,
    which the shifted views of contrastive training ask for anyway.
    """
    widths, _ = _check_filters(widths, 3)
    image_shape = _check_image_shape(image_shape, 0)  # "same" padding: any side works with pooling
    feature_dim = _checks.check_positive_int(feature_dim, "feature_dim")
    image = keras.Input(image_shape, name="image")
    h = image
    for width in widths:
        h = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2D(feature_dim, 3, padding="same", activation="relu")(h)
    features = layers.GlobalAveragePooling2D(name="features")(h)
    return _check_output(keras.Model(image, features, name=name), (feature_dim,))


def projection_head(feature_dim=128, projection_dim=64, hidden=None, name="projection_head"):
    """h -> Dense(hidden, ReLU) -> z (linear, projection_dim); hidden defaults to feature_dim.

    SimCLR computes the loss on z but keeps h: the head can discard what the augmentations vary
    (position, size), which downstream tasks may still need, so h transfers better than z.
    """
    feature_dim = _checks.check_positive_int(feature_dim, "feature_dim")
    projection_dim = _checks.check_positive_int(projection_dim, "projection_dim")
    hidden = feature_dim if hidden is None else _checks.check_positive_int(hidden, "hidden")
    h = keras.Input((feature_dim,), name="features")
    z = layers.Dense(projection_dim, name="projection")(layers.Dense(hidden, activation="relu")(h))
    return keras.Model(h, z, name=name)


# --- Image-to-image translation (pix2pix), restoration and super-resolution ---------------------

def _conv_pair(h, width, name):
    """Two 3x3 ReLU convolutions: the unit of each translation U-Net level."""
    h = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_conv1")(h)
    return layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{name}_conv2")(h)


def _translation_body(image, widths, channels):
    """The U-Net of Ronneberger et al. (2015) on an image-sized tensor: a conv pair per level, 2x2
    max-pooling down, nearest upsampling + conv back up, concatenating the encoder's features of the
    same size. The skips carry the pixel detail a bottleneck would lose, so the output can copy what
    the input already gets right and the network only learns the change.

    Linear output, added to the input when the channels agree (residual learning) from a zero-initialised
    last layer: the network starts as the identity (for super-resolution, as the bilinear upsampling) and
    learns the correction. A sigmoid output trained with L1 collapsed here to all-black images within a
    few hundred steps: L1's gradient has the same size at every pixel, 80% of MNIST pixels are black, and
    once the sigmoid saturates at 0 its gradient vanishes everywhere. Pix2Pix.translate clips to [0, 1].
    """
    h, skips = image, []
    for level, width in enumerate(widths[:-1]):
        h = _conv_pair(h, width, f"down{level}")
        skips.append(h)
        h = layers.MaxPooling2D(2, name=f"pool{level}")(h)
    h = _conv_pair(h, widths[-1], "middle")
    for level in reversed(range(len(widths) - 1)):
        h = layers.UpSampling2D(2, interpolation="nearest", name=f"upsample{level}")(h)
        h = layers.Conv2D(widths[level], 3, padding="same", activation="relu", name=f"up{level}_in")(h)
        h = _conv_pair(layers.Concatenate(name=f"skip{level}")([h, skips[level]]), widths[level], f"up{level}")
    change = layers.Conv2D(channels, 1, kernel_initializer="zeros", name="change")(h)
    if image.shape[-1] != channels:
        return change
    return layers.Add(name="image")([image, change])


def translation_unet(image_shape=(28, 28, 1), output_channels=None, widths=(32, 64, 128), name="translator"):
    """Image in [0, 1] -> image of the same height and width, to be read in [0, 1] (pix2pix's generator, small).

    widths: one level per entry, halving the side between levels (28 -> 14 -> 7 for three);
    output_channels defaults to the input's channels.
    """
    widths, _ = _check_filters(widths, 3)
    image_shape = _check_image_shape(image_shape, len(widths) - 1)
    channels = image_shape[-1] if output_channels is None else _checks.check_positive_int(output_channels,
                                                                                         "output_channels")
    image = keras.Input(image_shape, name="input_image")
    output = _translation_body(image, widths, channels)
    return _check_output(keras.Model(image, output, name=name), (*image_shape[:2], channels))


def super_resolution_net(low_shape=(14, 14, 1), high_shape=(28, 28, 1), widths=(32, 64, 128),
                         name="super_resolution"):
    """Low-resolution image -> bilinear resize to high_shape -> translation U-Net body -> image.

    The fixed resize does the geometry; the U-Net learns what interpolation cannot know (where the
    strokes are sharp). Any integer or non-integer scale works; high_shape must allow the U-Net's halvings.
    """
    widths, _ = _check_filters(widths, 3)
    low_shape = _check_image_shape(low_shape, 0, "low_shape")
    high_shape = _check_image_shape(high_shape, len(widths) - 1, "high_shape")
    if low_shape[-1] != high_shape[-1] or low_shape[0] > high_shape[0] or low_shape[1] > high_shape[1]:
        raise ValueError(f"super-resolution maps a smaller image to a larger one with the same channels, "
                         f"got low_shape {low_shape} and high_shape {high_shape}")
    image = keras.Input(low_shape, name="low_resolution")
    upsampled = layers.Resizing(*high_shape[:2], interpolation="bilinear", name="resize")(image)
    output = _translation_body(upsampled, widths, high_shape[-1])
    return _check_output(keras.Model(image, output, name=name), high_shape)


def patch_discriminator(input_shape=(28, 28, 1), target_shape=(28, 28, 1), widths=(32, 64), name="discriminator"):
    """pix2pix's conditional PatchGAN: [input image, candidate output] -> one logit per patch.

    The input is resized (nearest) to the target's size when they differ (super-resolution) and
    concatenated with the candidate; stride-2 4x4 convolutions then a 3x3 convolution give a map of
    logits, each judging whether one patch of the candidate (18 x 18 pixels for the default widths)
    is a real output *for this input*. Judging patches asks for local realism (sharp strokes) and leaves the global
    agreement to the L1 term.
    """
    widths, _ = _check_filters(widths, 4)
    input_shape = _check_image_shape(input_shape, 0, "input_shape")
    target_shape = _check_image_shape(target_shape, len(widths), "target_shape")
    condition = keras.Input(input_shape, name="input_image")
    candidate = keras.Input(target_shape, name="candidate")
    resized = condition
    if input_shape[:2] != target_shape[:2]:
        resized = layers.Resizing(*target_shape[:2], interpolation="nearest", name="resize_input")(condition)
    h = layers.Concatenate(name="pair")([resized, candidate])
    for level, width in enumerate(widths):
        h = layers.LeakyReLU(0.2)(layers.Conv2D(width, 4, strides=2, padding="same", name=f"conv{level}")(h))
    logits = layers.Conv2D(1, 3, padding="same", name="patch_logits")(h)
    side = [d // 2 ** len(widths) for d in target_shape[:2]]
    return _check_output(keras.Model([condition, candidate], logits, name=name), (*side, 1))


# --- Video: next-frame prediction ---------------------------------------------------------------

def frame_predictor(frame_shape=(64, 64, 1), widths=(16, 32, 32), units=32, name="frame_predictor"):
    """Frames (batch, time, h, w, c) -> logits of the *next* frame at every time step.

    Each frame goes down through stride-2 convolutions (one per width, shared over time), a
    ConvLSTM (Shi et al. 2015) at the smallest size carries the motion from frame to frame, and
    transposed convolutions come back up, joined at each size by that frame's own features (the
    skips): the network can copy a digit's appearance from the last frame and learn only where it
    goes. Causal by construction: output t depends on frames 0..t only.
    """
    units = _checks.check_positive_int(units, "units")
    frame_shape = _check_image_shape(frame_shape, len(widths), "frame_shape")
    frames = keras.Input((None, *frame_shape), name="frames")
    h, skips = frames, []
    for i, width in enumerate(widths):
        h = Framewise(layers.Conv2D(width, 3, strides=2, padding="same", activation="relu"), name=f"down_{i}")(h)
        skips.append(h)
    h = layers.ConvLSTM2D(units, 3, padding="same", return_sequences=True, name="conv_lstm")(h)
    for i, (width, skip) in reversed(list(enumerate(zip(widths, skips)))):
        h = layers.Concatenate()([h, skip])
        h = Framewise(layers.Conv2DTranspose(width, 3, strides=2, padding="same", activation="relu"), name=f"up_{i}")(h)
    logits = Framewise(layers.Conv2D(frame_shape[-1], 3, padding="same"), name="next_frame")(h)
    return _check_output(keras.Model(frames, logits, name=name), (None, *frame_shape))
