"""One module per ``emoens`` sub-command (see :mod:`emoens.cli`)."""
