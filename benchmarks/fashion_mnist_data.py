"""Fashion-MNIST from the Debian package, as the PyTorch training references feed it to their
models: pixels scaled to [0, 1], normalised by dm train's mean and standard deviation, and each
image flattened to 784 values."""
import gzip
import struct

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # dm::cli::kPixelMean, kPixelStd


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split):
    """(images (N, 784) f32, labels (N) i64) of split "train" or "t10k"."""
    x = torch.from_numpy(read_idx(f"{DATA}/{split}-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    y = torch.from_numpy(read_idx(f"{DATA}/{split}-labels-idx1-ubyte.gz").astype(np.int64))
    return ((x - MEAN) / STD).reshape(-1, 784), y
