"""Training of speech and text members with the Hugging Face ``Trainer`` (see :mod:`emoens.train.runner`)."""

from emoens.train.config import TrainConfig, TrainError, config_from_dict, load_config

__all__ = ["TrainConfig", "TrainError", "config_from_dict", "load_config", "train"]


def train(*args, **kwargs):
    """Train one member; see :func:`emoens.train.runner.train`."""
    from emoens.train.runner import train as _train

    return _train(*args, **kwargs)
