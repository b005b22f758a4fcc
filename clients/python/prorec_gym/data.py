"""What the harness tells an agent: the environment (EnvSpec) and batches of observations (Batch)."""

import numpy as np


def _ragged(values, offsets):
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def _padded(rows, width, fill=-1, dtype=np.int32):
    out = np.full((len(rows), width), fill, dtype=dtype)
    for i, r in enumerate(rows):
        n = min(len(r), width)
        out[i, :n] = r[:n]
    return out


class EnvSpec:
    """The environment an agent is created for (the ``create`` message, or a served ``env.describe``).

    ``num_items`` (N: item ids are 0..N-1), ``stop`` (= N, the STOP action), ``max_length``,
    ``env_config`` (the environment's complete config), ``titles`` and ``attribute_names`` (lists
    of str), ``item_attributes`` (a list of int32 arrays, one per item), ``popularity`` (float64,
    per item), ``train_sequences`` (a list of int32 arrays: the train split's sequences, the only
    interaction data an agent may learn from), ``env_id`` (None for a harness agent: its identity is
    not the agent's business).
    """

    def __init__(self, m):
        h = m.header.get("env", m.header)
        self.env_id = h.get("env_id")
        self.num_items = int(h["num_items"])
        self.stop = int(h["stop"])
        self.max_length = h.get("max_length")
        self.env_config = h.get("env_config", {})
        self.titles = h.get("titles", [])
        self.attribute_names = h.get("attribute_names", [])
        self.cases = h.get("cases")
        a = m.arrays
        self.item_attributes = _ragged(a["item_attributes"], a["item_attributes_offsets"]) if "item_attributes" in a else []
        self.popularity = a.get("popularity")
        self.train_sequences = _ragged(a["train_sequences"], a["train_sequences_offsets"]) if "train_sequences" in a else []

    def __repr__(self):
        return "EnvSpec(num_items=%d, max_length=%s, env_id=%r)" % (self.num_items, self.max_length, self.env_id)


class Batch:
    """A batch of B observations, one per environment row.

    Arrays: ``history`` (B, H) int32, ``target`` (B,), ``step`` (B,) actions taken so far,
    ``action_mask`` (B, N+1) uint8 (1 = allowed; the last column is STOP). Per row (lists of
    arrays): ``proposed`` (items recommended so far), ``accepted`` (1 per proposed item the user
    accepted), ``path`` (the accepted items). In ``act``: ``seeds`` (B,) uint32, each row's seed
    for this decision (keyed by the run seed, the row's episode and the step, never by its
    position in the batch): draw a row's randomness from ``batch.rng(row)`` to be reproducible.
    """

    def __init__(self, m, history_width=None):
        a = m.arrays
        B = a["target"].shape[0]
        self.rows = B
        offs = a["history_offsets"]
        lengths = np.diff(offs)
        if history_width is not None:
            # An environment's observations: every history padded (with -1) to the environment's H.
            self.history = _padded(_ragged(a["history"], offs), int(history_width))
        elif B and np.all(lengths == lengths[0]):
            self.history = a["history"].reshape(B, int(lengths[0]))
        else:
            self.history = _padded(_ragged(a["history"], offs), int(lengths.max()) if B else 0)
        self.target = a["target"]
        self.step = a["step"]
        self.action_mask = a["action_mask"]
        self.proposed = _ragged(a["proposed"], a["proposed_offsets"])
        self.accepted = _ragged(a["accepted"], a["proposed_offsets"])
        self.path = _ragged(a["path"], a["path_offsets"])
        self.seeds = a.get("seeds")

    def __len__(self):
        return self.rows

    def rng(self, row):
        """Row ``row``'s random generator for this decision (NumPy's PCG64 seeded with ``seeds[row]``)."""
        if self.seeds is None:
            raise ValueError("this batch has no per-row seeds (only act batches do)")
        return np.random.default_rng(int(self.seeds[row]))

    def as_dict(self, max_length):
        """The observation dict of the Gymnasium classes: ragged rows padded with -1 to ``max_length``."""
        return {
            "history": self.history,
            "target": self.target.astype(np.int64),
            "step": self.step.astype(np.int64),
            "action_mask": self.action_mask.astype(np.int8),
            "proposed": _padded(self.proposed, max_length),
            "accepted": _padded(self.accepted, max_length),
            "path": _padded(self.path, max_length),
        }
