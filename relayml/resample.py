"""Resampling a stream block by block, giving the same samples as resampling it whole.

torchaudio's resampler is a windowed-sinc filter: each output sample depends on a few dozen input
samples around it. Feeding it blocks that overlap by more than that window, and cutting at input
positions that are multiples of the reduced ratio's denominator, makes the joins invisible.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio.functional as AF

# Input samples of context kept on each side of a cut; torchaudio's default filter needs far fewer.
CONTEXT_SAMPLES = 256


class StreamResampler:
    def __init__(self, orig_rate: int, new_rate: int):
        g = math.gcd(orig_rate, new_rate)
        self.orig_rate, self.new_rate = orig_rate, new_rate
        self.o, self.n = orig_rate // g, new_rate // g
        self.context = self.o * math.ceil(CONTEXT_SAMPLES / self.o)
        self.buf = np.zeros(0, dtype=np.float32)
        self.buf_pos = 0  # input index of buf[0]
        self.emitted = 0  # input index up to which output has been produced

    def push(self, block: np.ndarray) -> np.ndarray:
        if self.o == self.n:
            return block.astype(np.float32, copy=False)
        self.buf = np.concatenate([self.buf, block.astype(np.float32, copy=False)])
        end = self.buf_pos + len(self.buf)
        safe = ((end - self.context) // self.o) * self.o
        if safe <= self.emitted:
            return np.zeros(0, dtype=np.float32)
        return self._emit(safe, final=False)

    def flush(self) -> np.ndarray:
        if self.o == self.n or len(self.buf) == 0:
            return np.zeros(0, dtype=np.float32)
        return self._emit(self.buf_pos + len(self.buf), final=True)

    def _emit(self, upto: int, final: bool) -> np.ndarray:
        resampled = AF.resample(torch.from_numpy(self.buf), self.o, self.n).numpy()
        first = (self.emitted - self.buf_pos) * self.n // self.o
        last = len(resampled) if final else (upto - self.buf_pos) * self.n // self.o
        out = resampled[first:last]
        self.emitted = upto
        keep_from = max(self.buf_pos, ((upto - self.context) // self.o) * self.o)
        self.buf = self.buf[keep_from - self.buf_pos :]
        self.buf_pos = keep_from
        return out
