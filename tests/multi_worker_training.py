"""Worker script of test_multi_worker.py: trains two package models on the same global batches,
under MultiWorkerMirroredStrategy when TF_CONFIG is set and on one device otherwise, and saves
the variables. Usage: python multi_worker_training.py OUTPUT_PREFIX
(writes OUTPUT_PREFIX_{worker index or "single"}_{model}.npz: each variable's update)"""

import contextlib
import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf

# The strategy must exist before any other TensorFlow op runs in the process.
strategy = tf.distribute.MultiWorkerMirroredStrategy() if "TF_CONFIG" in os.environ else None

from keras_genai import GAN, CharLanguageModel, nets, tokenizers  # noqa: E402

GLOBAL_BATCH = 8


def build(name):
    if name == "CharLanguageModel":
        model = CharLanguageModel(tokenizers.CharTokenizer(list("abcdef")), embedding_dim=4, units=6)
        model.compile(keras.optimizers.SGD(0.1))
    else:  # synchronized BatchNorm: the batch statistics are those of the global batch
        model = GAN(nets.dcgan_generator(4, (8, 8, 1), filters=(8, 4), synchronized_batchnorm=True),
                    nets.dcgan_discriminator((8, 8, 1), filters=(4, 8)), seed=0)
        model.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    return model


def data(name):
    rng = np.random.default_rng(0)
    if name == "GAN":
        return rng.uniform(-1, 1, (2 * GLOBAL_BATCH, 8, 8, 1)).astype("float32")
    # Rows of 9 and 2 characters: the workers hold different numbers of real tokens.
    lengths = np.tile(np.repeat([9, 2], GLOBAL_BATCH // 2), 2)
    texts = ["".join(rng.choice(list("abcdef"), n)) for n in lengths]
    return tokenizers.CharTokenizer(list("abcdef")).encode_batch(texts, add_start=True, add_end=True)


task = json.loads(os.environ["TF_CONFIG"])["task"]["index"] if strategy else "single"
prefix, logs = f"{sys.argv[1]}_{task}", {}
for name in ["CharLanguageModel", "GAN"]:
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = build(name)
        if not model.built:
            model.build()
    before = [v.numpy() for v in model.variables]
    history = model.fit(data(name), batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
    logs[name] = {key: float(values[-1]) for key, values in history.history.items()}
    np.savez(f"{prefix}_{name}.npz", *[v.numpy() - b for v, b in zip(model.variables, before)])
logs["replicas"] = strategy.num_replicas_in_sync if strategy else 1
print(json.dumps(logs))
