import pytest

from keras_genai import nets


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 48, 1)])
def test_dcgan_and_conv_builders_produce_the_requested_shape(shape):
    assert nets.dcgan_generator(16, shape).output_shape == (None, *shape)
    assert nets.dcgan_discriminator(shape).output_shape == (None, 1)
    assert nets.conv_decoder(4, shape).output_shape == (None, *shape)
    z_mean, z_log_var = nets.conv_encoder(shape, 4).output
    assert tuple(z_mean.shape) == (None, 4) and tuple(z_log_var.shape) == (None, 4)


def test_three_upsamplings_cannot_make_28x28():
    # Seed 004's generator: three stride-2 layers from 7x7 give 56x56. The builder refuses a shape
    # that its number of stride-2 layers cannot reach.
    with pytest.raises(ValueError, match="divisible by 8"):
        nets.dcgan_generator(16, (28, 28, 1), filters=(128, 64, 32))


def test_mlp_builders_and_bad_arguments():
    assert nets.mlp_generator(8, (2,), output_activation=None).output_shape == (None, 2)
    assert nets.mlp_discriminator((28, 28, 1)).output_shape == (None, 1)
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        nets.mlp_generator(0, (2,))
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        nets.dcgan_discriminator((28, 28))


def test_conditional_builders_take_a_label_input():
    generator = nets.dcgan_generator(16, num_classes=10)
    assert generator.input_shape == [(None, 16), (None,)] and generator.output_shape == (None, 28, 28, 1)
    for conditioning in sorted(nets.CONDITIONINGS):
        discriminator = nets.dcgan_discriminator(num_classes=10, conditioning=conditioning)
        assert discriminator.input_shape == [(None, 28, 28, 1), (None,)] and discriminator.output_shape == (None, 1)
    encoder, decoder = nets.vae_encoder(latent_dim=8, num_classes=10), nets.vae_decoder(8, num_classes=10)
    assert encoder.input_shape == [(None, 28, 28, 1), (None,)] and decoder.input_shape == [(None, 8), (None,)]
    with pytest.raises(ValueError, match="conditioning must be one of"):
        nets.dcgan_discriminator(num_classes=10, conditioning="film")
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        nets.dcgan_generator(16, num_classes=0)


def test_generator_batchnorm_switches():
    import keras

    def batchnorms(net):
        return [layer for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization)]

    assert len(batchnorms(nets.dcgan_generator())) == 2
    assert not batchnorms(nets.dcgan_generator(batchnorm=False))
    assert all(layer.synchronized for layer in batchnorms(nets.dcgan_generator(synchronized_batchnorm=True)))
    # Without BatchNorm each normalised unit loses 4 BatchNorm numbers (gamma, beta, moving mean and
    # variance) and gets its layer's bias back: 7x7x64 units after the Dense layer, 32 channels after the convolution.
    units = 7 * 7 * 64 + 32
    assert nets.dcgan_generator(batchnorm=False).count_params() == nets.dcgan_generator().count_params() - 3 * units
