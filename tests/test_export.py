"""Export for serving and reproducible runs: a SavedModel reloaded in a fresh process gives the same
images, and two seeded trainings in fresh processes end with bit-identical weights."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_genai import GAN, VAE, ConditionalGAN, export, nets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code):
    """Run code in a fresh Python (no state shared with this test process); return its stdout."""
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def tiny_gan():
    keras.utils.set_random_seed(0)
    return GAN(nets.mlp_generator(4, (28, 28, 1), hidden=(8,)), nets.mlp_discriminator((28, 28, 1), hidden=(8,)),
               seed=0)


def test_exported_generator_reloads_in_a_fresh_process_with_the_same_images(tmp_path):
    gan = tiny_gan()
    z = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    expected = (gan.generate(z=z) + 1) / 2  # [-1, 1] -> [0, 1]
    path = export.export_generator(gan, tmp_path / "generator")
    np.save(tmp_path / "z.npy", z)
    out = run_python(f"""
        import json, numpy as np, tensorflow as tf
        from keras_genai import export
        f = export.load_generator({str(tmp_path / 'generator')!r})
        images = f["serving_default"](z=tf.constant(np.load({str(tmp_path / 'z.npy')!r})))["images"].numpy()
        seeded = [f["from_seed"](n=tf.constant(3), seed=tf.constant(7))["images"].numpy() for _ in range(2)]
        np.save({str(tmp_path / 'images.npy')!r}, images)
        print(json.dumps({{"same_seed_same_images": bool((seeded[0] == seeded[1]).all()), "shape": seeded[0].shape}}))
    """)
    report = json.loads(out.strip().splitlines()[-1])
    np.testing.assert_allclose(np.load(tmp_path / "images.npy"), expected, atol=1e-6)
    assert report == {"same_seed_same_images": True, "shape": [3, 28, 28, 1]}
    assert os.path.exists(os.path.join(path, "saved_model.pb"))


def test_exported_vae_decodes_to_probabilities(tmp_path):
    keras.utils.set_random_seed(0)
    vae = VAE(nets.vae_encoder(latent_dim=3), nets.vae_decoder(latent_dim=3), seed=0)
    z = np.zeros((2, 3), "float32")
    export.export_generator(vae, tmp_path / "vae")
    images = export.load_generator(tmp_path / "vae")["serving_default"](z=z)["images"].numpy()
    np.testing.assert_allclose(images, vae.decode(z), atol=1e-6)


def test_export_refuses_what_it_cannot_serve(tmp_path):
    conditional = ConditionalGAN(nets.dcgan_generator(8, num_classes=10), nets.dcgan_discriminator(num_classes=10), 10)
    with pytest.raises(TypeError, match="unconditional"):
        export.export_generator(conditional, tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        export.load_generator(tmp_path / "missing")
    with pytest.raises(ValueError, match="non-negative integer"):
        export.make_reproducible(-1)


def test_two_seeded_trainings_in_fresh_processes_end_bit_identical():
    code = """
        import hashlib, numpy as np
        from keras_genai import GAN, export, nets
        export.make_reproducible(3)
        x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
        gan = GAN(nets.mlp_generator(4, (28, 28, 1), hidden=(16,)), nets.mlp_discriminator((28, 28, 1), hidden=(16,)), seed=3)
        gan.compile()
        gan.fit(x, batch_size=16, epochs=2, verbose=0)
        print(hashlib.sha256(b"".join(w.numpy().tobytes() for w in gan.weights)).hexdigest())
    """
    first, second = (run_python(code).strip().splitlines()[-1] for _ in range(2))
    assert first == second


RESUMABLE_RUN = """
    import hashlib, os, signal, sys, numpy as np, keras
    from keras_genai import GAN, export, nets
    export.make_reproducible(0)
    backup, kill_after = sys.argv[1], int(sys.argv[2])
    x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    gan = GAN(nets.mlp_generator(4, (28, 28, 1), hidden=(16,)), nets.mlp_discriminator((28, 28, 1), hidden=(16,)), seed=0)
    gan.compile()

    class Kill(keras.callbacks.Callback):  # after the backup of this epoch is written (it comes first)
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    gan.fit(x, batch_size=16, epochs=4, verbose=0, shuffle=False,
            callbacks=[keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False), Kill()])
    state = gan.weights + gan.g_optimizer.variables + gan.d_optimizer.variables
    print(hashlib.sha256(b"".join(np.asarray(v).tobytes() for v in state)).hexdigest())
"""


def run_script(path, *args):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, str(path), *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_a_killed_and_resumed_gan_ends_like_an_uninterrupted_one(tmp_path):
    # The backup holds both networks, both optimizers and the noise generator's state (GenerativeModel
    # saves the SeedGenerator, which Keras leaves out); the data order must not depend on the process
    # (shuffle=False here), or the resumed epochs see other batches.
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(RESUMABLE_RUN))
    uninterrupted = run_script(script, tmp_path / "a", 0)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    killed = run_script(script, tmp_path / "b", 2)
    assert killed.returncode == -9, f"the run was not killed: {killed.returncode}"
    assert json.loads((tmp_path / "b" / "training_metadata.json").read_text())["epoch"] == 2
    resumed = run_script(script, tmp_path / "b", 0)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.split()[-1] == uninterrupted.stdout.split()[-1]


def test_saved_models_keep_the_noise_generator_state(tmp_path):
    gan = tiny_gan()
    gan.seed_generator.next()  # advance the state past its initial value
    gan.save_weights(tmp_path / "gan.weights.h5")
    fresh = tiny_gan()
    fresh.load_weights(tmp_path / "gan.weights.h5")
    np.testing.assert_array_equal(np.asarray(fresh.seed_generator.state), np.asarray(gan.seed_generator.state))


def test_model_checkpoint_keeps_the_best_epoch_and_it_reloads(tmp_path):
    from keras_genai import Autoencoder

    keras.utils.set_random_seed(0)
    model = Autoencoder(nets.conv_encoder((28, 28, 1), 3, filters=(4, 8), dense=8, variational=False),
                        nets.conv_decoder(3, (28, 28, 1), filters=(8, 4), dense=8), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(0)
    x, x_val = (rng.uniform(size=(n, 28, 28, 1)).astype("float32") for n in (64, 32))
    best = tmp_path / "best.keras"
    history = model.fit(x, batch_size=16, epochs=4, verbose=0, validation_data=(x_val,), callbacks=[
        keras.callbacks.ModelCheckpoint(best, monitor="val_loss", save_best_only=True)]).history
    reloaded = keras.saving.load_model(best)
    score = reloaded.evaluate(x_val, batch_size=16, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(score, min(history["val_loss"]), rtol=1e-5)


def test_exported_text_model_reloads_in_a_fresh_process_and_decodes_like_generate(tmp_path):
    from keras_genai import CharLanguageModel, tokenizers

    texts = ["anna", "bob", "carla", "dave", "emma"] * 20
    tok = tokenizers.CharTokenizer.from_texts(texts)
    keras.utils.set_random_seed(0)
    model = CharLanguageModel(tok, embedding_dim=8, units=16, num_layers=2)
    model.compile(keras.optimizers.Adam(0.01))
    model.fit(tok.encode_batch(texts, add_start=True, add_end=True), epochs=5, verbose=0)
    prompts = ["a", "car", "e", "bo"]  # different lengths in one batch
    expected = model.generate(prompts, max_new_tokens=8, sampler="greedy")
    export.export_text_generator(model, tmp_path / "names")
    out = run_python(f"""
        import json, tensorflow as tf
        f = tf.saved_model.load({str(tmp_path / 'names')!r}).signatures["serving_default"]
        def run(prompts, temperature, seed):
            texts = f(prompts=tf.constant(prompts), max_new_tokens=tf.constant(8),
                      temperature=tf.constant(temperature), seed=tf.constant(seed))["texts"]
            return [t.decode() for t in texts.numpy()]
        try:
            run(["a#"], 1.0, 0)
            unknown = "accepted"
        except tf.errors.InvalidArgumentError as error:
            unknown = error.message
        print(json.dumps({{"greedy": run({prompts!r}, 0.0, 0), "seed_1": [run([""] * 8, 1.0, 1) for _ in range(2)],
                           "seed_2": run([""] * 8, 1.0, 2), "unknown": unknown}}))
    """)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["greedy"] == expected
    assert report["seed_1"][0] == report["seed_1"][1] != report["seed_2"]
    assert "outside the vocabulary of the model" in report["unknown"]
    with pytest.raises(TypeError, match="takes a CharLanguageModel"):
        export.export_text_generator(tiny_gan(), tmp_path / "gan")
