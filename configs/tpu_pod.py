"""BP4D → EmotioNet on many accelerators (a TPU pod slice, a multi-GPU host).

16 images per device in each domain, bfloat16 activations (float32 parameters and
losses), learning rates scaled from the paper's batch of 8 by the square-root rule for
Adam (docs/training.md, "Batch size and learning rates on many devices"). On a v4-32 slice (16
chips) the global batch is 256 and the rates are 5.7× the paper's.

  au-jax train --config configs/tpu_pod.py --workdir gs://bucket/runs/pod --distributed \
      --config.data.data_dir=gs://bucket/data

(on every host of the slice; docs/training.md, "Running on a pod", has the bucket layout.)
"""

from configs import bp4d_emotionet


def get_config():
  c = bp4d_emotionet.get_config()
  c.half_precision = True
  c.scaling.per_device_batch_size = 16
  c.scaling.learning_rate_rule = 'sqrt'
  c.train.eval_batch_size = 256
  return c
