"""emoens: Korean speech emotion recognition (speech + text models, fused).

Quick start::

    from emoens import EmotionRecognizer
    rec = EmotionRecognizer.from_bundle()          # the embedded default bundle
    result = rec.analyze("clip.wav", text="정말 기뻐요")
"""

__version__ = "0.1.0"

__all__ = ["EmotionRecognizer", "__version__"]


def __getattr__(name):
    # Lazy so that `import emoens` (and the CLI's start-up) stays light.
    if name == "EmotionRecognizer":
        from emoens.recognizer import EmotionRecognizer

        return EmotionRecognizer
    raise AttributeError(f"module 'emoens' has no attribute {name!r}")
