"""reinforce_numpy.py: a linear softmax policy trained with REINFORCE, in NumPy, through the agent process protocol.

    npx prorec-gym bench --agent ./reinforce_numpy.py --env synthetic-v0

Each candidate item gets features x (the attributes it shares with the target, whether it shares
one with the previous item, its log popularity); the policy picks item i with probability
softmax(w.x_i) over the allowed items, for `path_length` steps, then STOP. `train` samples paths on
train cases (the harness's environments, stepped through ProrecVectorEnv) and follows the policy
gradient of the episode's reward-to-go (normalised per batch); `act` takes the argmax (or samples
from each row's own seeded generator with {"sample": true}).
"""

import json

import numpy as np

from prorec_gym import Agent

FEATURES = ["sharedWithTarget", "coherentWithPrevious", "logPopularity"]
DEFAULTS = {"path_length": 3, "epochs": 10, "cases_per_epoch": 256, "lr": 0.5, "sample": False, "init": None, "checkpoint": None}


class Reinforce(Agent):
    name = "reinforce-numpy"

    def __init__(self, config, env, seed):
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise ValueError("unknown config fields: %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(DEFAULTS)))
        super().__init__({**DEFAULTS, **config}, env, seed)
        N = env.num_items
        attrs = np.zeros((N, max(1, len(env.attribute_names))), dtype=np.float32)
        for i, a in enumerate(env.item_attributes):
            attrs[i, a] = 1.0
        self.attrs = attrs
        self.log_pop = np.log1p(env.popularity).astype(np.float32) if env.popularity is not None else np.zeros(N, np.float32)
        self.w = np.zeros(len(FEATURES))

    def features(self, batch):
        """x of every item for every row: (B, N, 3)."""
        B, N = batch.rows, self.env.num_items
        shared = self.attrs[batch.target] @ self.attrs.T  # (B, N)
        previous = np.array([p[-1] if len(p) else h[-1] for p, h in zip(batch.path, batch.history)])
        coherent = (self.attrs[previous] @ self.attrs.T) > 0
        return np.stack([shared, coherent.astype(np.float32), np.broadcast_to(self.log_pop, (B, N))], axis=-1)

    def probs(self, batch, x):
        logits = x @ self.w
        allowed = batch.action_mask[:, : self.env.num_items].astype(bool)
        logits = np.where(allowed, logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def act(self, batch):
        x = self.features(batch)
        p = self.probs(batch, x)
        if self.config["sample"]:
            items = np.array([batch.rng(b).choice(len(p[b]), p=p[b]) for b in range(batch.rows)])
        else:
            items = p.argmax(axis=1)
        return np.where(batch.step >= self.config["path_length"], self.env.stop, items).astype(np.int32)

    def train(self, make_env, epochs, seed):
        if self.config["init"]:
            return self.load(self.config["init"])
        epochs = epochs if epochs is not None else self.config["epochs"]
        rng = np.random.default_rng(seed)
        env = make_env(self.config["cases_per_epoch"])
        L = self.config["path_length"]
        for epoch in range(1, epochs + 1):
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
            grads, rewards = [], []
            for t in range(L):
                batch = env.batch
                x = self.features(batch)
                p = self.probs(batch, x)
                u = rng.random((batch.rows, 1))
                items = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)
                # d log p(a) / dw = x_a - E_p[x]
                grads.append(x[np.arange(batch.rows), items] - np.einsum("bn,bnf->bf", p, x))
                _, r, _, _, _ = env.step(items.astype(np.int32))
                rewards.append(r)
            env.step(np.full(env.num_envs, env.stop, dtype=np.int32))
            togo = np.cumsum(np.array(rewards)[::-1], axis=0)[::-1]  # (L, B)
            adv = (togo - togo.mean(axis=1, keepdims=True)) / (togo.std(axis=1, keepdims=True) + 1e-8)
            g = np.einsum("lb,lbf->f", adv, np.array(grads)) / (L * env.num_envs)
            self.w += self.config["lr"] * g
            self.log(epoch, ret=float(np.array(rewards).sum(axis=0).mean()), **{"w." + f: float(v) for f, v in zip(FEATURES, self.w)})
            self.progress(epoch / epochs)
        env.close()
        if self.config["checkpoint"]:
            self.save(self.config["checkpoint"])

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"agent": "reinforce-numpy", "features": FEATURES, "weights": self.w.tolist()}, f)

    def load(self, path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("agent") != "reinforce-numpy" or len(saved.get("weights", [])) != len(FEATURES):
            raise ValueError("%s: not a checkpoint of reinforce-numpy" % path)
        self.w = np.array(saved["weights"], dtype=float)
