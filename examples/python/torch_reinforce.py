"""torch_reinforce.py: reinforce_numpy.py's agent with a PyTorch scorer, trained with REINFORCE through the agent process protocol.

    npx prorec-gym bench --agent ./torch_reinforce.py --env synthetic-v0

Needs torch importable by the agent's Python (PRORL_PYTHON chooses the interpreter). Each candidate
item gets the features of reinforce_numpy.py (attributes shared with the target, coherence with
the previous item, log popularity); a small MLP scores them, the policy is the softmax of the
scores over the allowed items for `path_length` steps, then STOP. Seeded with the run's seed, on
the CPU, with deterministic algorithms and one thread, so that a run repeats itself on one machine
(docs/agent-protocol.md says what else can differ between machines).
"""

import json

import numpy as np
import torch

from prorec_gym import Agent

DEFAULTS = {"path_length": 3, "epochs": 10, "cases_per_epoch": 256, "lr": 0.01, "hidden": 16, "sample": False, "init": None, "checkpoint": None}


class TorchReinforce(Agent):
    name = "torch-reinforce"

    def __init__(self, config, env, seed):
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise ValueError("unknown config fields: %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(DEFAULTS)))
        super().__init__({**DEFAULTS, **config}, env, seed)
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        N = env.num_items
        attrs = np.zeros((N, max(1, len(env.attribute_names))), dtype=np.float32)
        for i, a in enumerate(env.item_attributes):
            attrs[i, a] = 1.0
        self.attrs = torch.from_numpy(attrs)
        self.log_pop = torch.from_numpy(np.log1p(env.popularity).astype(np.float32))
        h = self.config["hidden"]
        self.scorer = torch.nn.Sequential(torch.nn.Linear(3, h), torch.nn.Tanh(), torch.nn.Linear(h, 1))

    def features(self, batch):
        """x of every item for every row: (B, N, 3)."""
        target = torch.from_numpy(batch.target.astype(np.int64))
        previous = torch.tensor([int(p[-1]) if len(p) else int(h[-1]) for p, h in zip(batch.path, batch.history)])
        shared = self.attrs[target] @ self.attrs.T
        coherent = ((self.attrs[previous] @ self.attrs.T) > 0).float()
        return torch.stack([shared, coherent, self.log_pop.expand_as(shared)], dim=-1)

    def log_probs(self, batch):
        logits = self.scorer(self.features(batch)).squeeze(-1)
        allowed = torch.from_numpy(batch.action_mask[:, : self.env.num_items].astype(bool))
        return torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=1)

    def act(self, batch):
        with torch.no_grad():
            p = self.log_probs(batch).exp().numpy().astype(np.float64)
        if self.config["sample"]:
            items = np.array([batch.rng(b).choice(p.shape[1], p=p[b] / p[b].sum()) for b in range(batch.rows)])
        else:
            items = p.argmax(axis=1)
        return np.where(batch.step >= self.config["path_length"], self.env.stop, items).astype(np.int32)

    def train(self, make_env, epochs, seed):
        if self.config["init"]:
            return self.load(self.config["init"])
        epochs = epochs if epochs is not None else self.config["epochs"]
        generator = torch.Generator().manual_seed(seed)
        env = make_env(self.config["cases_per_epoch"])
        optimizer = torch.optim.Adam(self.scorer.parameters(), lr=self.config["lr"])
        L = self.config["path_length"]
        for epoch in range(1, epochs + 1):
            env.reset(seed=int(torch.randint(2**31, (1,), generator=generator)))
            chosen, rewards = [], []
            for t in range(L):
                logp = self.log_probs(env.batch)
                items = torch.multinomial(logp.detach().exp(), 1, generator=generator).squeeze(1)
                chosen.append(logp.gather(1, items[:, None]).squeeze(1))
                _, r, _, _, _ = env.step(items.numpy().astype(np.int32))
                rewards.append(torch.from_numpy(r).float())
            env.step(np.full(env.num_envs, env.stop, dtype=np.int32))
            togo = torch.stack(rewards).flip(0).cumsum(0).flip(0)  # (L, B)
            adv = (togo - togo.mean(1, keepdim=True)) / (togo.std(1, keepdim=True) + 1e-8)
            loss = -(adv * torch.stack(chosen)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            self.log(epoch, loss=float(loss), ret=float(torch.stack(rewards).sum(0).mean()))
            self.progress(epoch / epochs)
        env.close()
        if self.config["checkpoint"]:
            self.save(self.config["checkpoint"])

    def save(self, path):
        state = {k: v.tolist() for k, v in self.scorer.state_dict().items()}
        with open(path, "w") as f:
            json.dump({"agent": "torch-reinforce", "hidden": self.config["hidden"], "state": state}, f)

    def load(self, path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("agent") != "torch-reinforce" or saved.get("hidden") != self.config["hidden"]:
            raise ValueError("%s: not a checkpoint of torch-reinforce with hidden=%s" % (path, self.config["hidden"]))
        self.scorer.load_state_dict({k: torch.tensor(v) for k, v in saved["state"].items()})
