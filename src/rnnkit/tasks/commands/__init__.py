"""Voice commands (keyword spotting): ten command words plus unknown and silence, from any WAV.

``rnnkit train commands --data spoken_words --out runs/kws`` then ``rnnkit recognize runs/kws
clip.wav``. Shares the audio front end and the recurrent encoder with :mod:`rnnkit.tasks.speech`.
Light on import (no torch).
"""
