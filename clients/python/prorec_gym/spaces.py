"""Minimal stand-ins for Gymnasium's spaces, used when ``gymnasium`` is not installed.

They have what the environments' ``action_space`` / ``observation_space`` are used for: ``shape``,
``dtype``, ``n`` / ``nvec``, ``contains`` and ``sample`` (seeded with ``seed``).
"""

import numpy as np


class Space:
    def __init__(self, shape, dtype, seed=None):
        self.shape = shape
        self.dtype = np.dtype(dtype) if dtype is not None else None
        self.np_random = np.random.default_rng(seed)

    def seed(self, seed=None):
        self.np_random = np.random.default_rng(seed)
        return [seed]

    def __contains__(self, x):
        return self.contains(x)


class Discrete(Space):
    def __init__(self, n, seed=None):
        super().__init__((), np.int64, seed)
        self.n = int(n)

    def sample(self, mask=None):
        if mask is not None:
            allowed = np.flatnonzero(np.asarray(mask))
            return int(self.np_random.choice(allowed))
        return int(self.np_random.integers(self.n))

    def contains(self, x):
        return isinstance(x, (int, np.integer)) and 0 <= int(x) < self.n

    def __repr__(self):
        return "Discrete(%d)" % self.n


class MultiDiscrete(Space):
    def __init__(self, nvec, seed=None):
        self.nvec = np.asarray(nvec, dtype=np.int64)
        super().__init__(self.nvec.shape, np.int64, seed)

    def sample(self, mask=None):
        return (self.np_random.random(self.nvec.shape) * self.nvec).astype(np.int64)

    def contains(self, x):
        x = np.asarray(x)
        return x.shape == self.nvec.shape and bool(np.all((x >= 0) & (x < self.nvec)))

    def __repr__(self):
        return "MultiDiscrete(%s)" % self.nvec


class Box(Space):
    def __init__(self, low, high, shape, dtype=np.int32, seed=None):
        super().__init__(tuple(shape), dtype, seed)
        self.low = np.full(self.shape, low, dtype=self.dtype)
        self.high = np.full(self.shape, high, dtype=self.dtype)

    def sample(self, mask=None):
        return self.np_random.integers(self.low, self.high, endpoint=True).astype(self.dtype)

    def contains(self, x):
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all((x >= self.low) & (x <= self.high)))

    def __repr__(self):
        return "Box(%s, %s)" % (self.shape, self.dtype)


class MultiBinary(Space):
    def __init__(self, n, seed=None):
        super().__init__(tuple(np.atleast_1d(n)), np.int8, seed)
        self.n = n

    def sample(self, mask=None):
        return self.np_random.integers(0, 2, self.shape).astype(np.int8)

    def contains(self, x):
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all((x == 0) | (x == 1)))

    def __repr__(self):
        return "MultiBinary(%s)" % (self.n,)


class Dict(Space):
    def __init__(self, spaces, seed=None):
        super().__init__(None, None, seed)
        self.spaces = dict(spaces)

    def __getitem__(self, key):
        return self.spaces[key]

    def keys(self):
        return self.spaces.keys()

    def sample(self, mask=None):
        return {k: s.sample() for k, s in self.spaces.items()}

    def contains(self, x):
        return isinstance(x, dict) and x.keys() == self.spaces.keys() and all(s.contains(x[k]) for k, s in self.spaces.items())

    def __repr__(self):
        return "Dict(%s)" % ", ".join("%s: %r" % kv for kv in self.spaces.items())
