"""Split the CPU into two logical devices before TensorFlow starts, so that
tests/test_distribute.py can train under tf.distribute.MirroredStrategy with two replicas.
Every other test runs on the first device, as it would without this."""

import tensorflow as tf

LOGICAL_CPUS = 2

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * LOGICAL_CPUS
)
