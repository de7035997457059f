"""Training an emulator: the loop, its learning-rate schedule, validation, logs and run folder.

:func:`hybridge.training.loop.train` is the entry point (``hybridge train`` is a thin layer
over it); the other modules each do one thing for it.
"""
