"""The fast CPU path: ONNX members, split by when they run.

- :mod:`emoens.onnx.runtime` — run time, no torch: ONNX Runtime sessions, ``OnnxSpeechMember`` /
  ``OnnxTextMember`` and their tokenizers; the loaders that :mod:`emoens.models` registers for
  the ``onnx-speech`` / ``onnx-text`` kinds.
- :mod:`emoens.onnx.rewrites` — export time, torch: modules rewritten into equivalents that
  export to faster graphs (importable and tested one by one).
- :mod:`emoens.onnx.graph` — export time, onnx: passes over the exported graph (int8, shared
  input quantisation, BERT attention fusion) and the external-weights file format.
- :mod:`emoens.onnx.export` — export time: members and whole bundles (``emoens export``), and
  the ``torch.ao`` int8 fallback when ONNX Runtime is absent.

Importing this package imports none of them.
"""
