"""The Python agents of benchmarks/perf/agent-process.ts: config {"mode": "stop"} answers STOP for every
row (what an act costs beyond the agent's own work: the protocol), {"mode": "score"} is the same logic
as the TypeScript agent it is timed against (the allowed item sharing most attributes with the
target, ties to the more popular, then to the lower id; STOP after 3 items)."""

import numpy as np

from prorec_gym import Agent


class _Stop(Agent):
    def act(self, batch):
        return np.full(batch.rows, self.env.stop, dtype=np.int32)


class _Score(Agent):
    def __init__(self, config, env, seed):
        super().__init__(config, env, seed)
        self.attrs = np.zeros((env.num_items, max(1, len(env.attribute_names))))
        for i, a in enumerate(env.item_attributes):
            self.attrs[i, a] = 1.0
        self.bonus = 1e-3 * np.log1p(env.popularity) / np.log1p(env.popularity.max())

    def act(self, batch):
        score = self.attrs[batch.target] @ self.attrs.T + self.bonus
        score[batch.action_mask[:, :-1] == 0] = -np.inf
        return np.where(batch.step >= 3, self.env.stop, score.argmax(axis=1)).astype(np.int32)


def make_agent(config, env, seed):
    return {"stop": _Stop, "score": _Score}[config["mode"]](config, env, seed)
