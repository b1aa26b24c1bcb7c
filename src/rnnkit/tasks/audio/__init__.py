"""Pieces the speech and commands tasks share (not a task itself: no registry line).

``config`` (the settings both tasks' configs check alike, and the encoder's arguments),
``frontend`` (any WAV -> normalised log-mel frames; padded, bucketed, augmented batches),
``encoder`` (strided Conv1d + (Bi)LSTM/GRU), ``api`` (a WAV in a JSON request), ``cli`` (one
result per WAV, printed or JSON), ``training``
(time summed across resumed sessions). Each task package imports these, never the other task.
"""
