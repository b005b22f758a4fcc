#!/usr/bin/env python3
"""PyTorch-CPU reference for `npm run perf -- rl`: one RL update of prorec-gym's trainer on
synthetic-v0, written in PyTorch to mirror agents/policy.ts, agents/rollout.ts and
policyGradientStep (agents/rl.ts), so the TypeScript figures have a yardstick on the same machine.

Per update: 16 cases x G = 16 = 256 paths of at most 10 items.
- Policy (agents/policy.ts defaults): item table E [1000 x 64]; one pre-norm causal self-attention
  block (single head) over history (10) + path with the target as an extra key every position
  sees; head MLP on [h, e_T, h * e_T, step embedding] -> z; logits z.E^T + b (items) and
  z.w + b (STOP); forbidden: the history, the target, items already in the path.
- Rollout: sampled step by step, acting with a key/value cache (one new token per step, as
  IncrementalPolicy does); rows that stop leave the batch. The environment is synthetic-v0's exact
  dynamics (moving-average interest over 1,000 x 16 item vectors, float64): per step the CTR of the
  item, then log p(T) and rank(T) from the scores of all items (the reward model only: training
  rollouts do not step the evaluator).
- Update: teacher-forced log-probabilities of every term (items and STOP) under the policy and,
  without gradient, the reference policy; loss = -(1/N) sum A l + (beta/N) sum KL (exact per-step
  KL), A = the path return (REINFORCE); `chunks` gradient passes over groups of whole cases with
  the gradient-noise statistics (as gradChunks), then AdamW.

Prints one JSON object: medians (ms, wall and process CPU) of rollout and update over `--iters`
updates after one warm-up, for chunks 4 and 1, and the mean path length.
Usage: python3 torch_rl.py [--iters 5] [--threads 1]
"""
import argparse
import copy
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ITEMS, DIM, HISTORY, MAX_LEN, CASES, GROUP = 1000, 64, 10, 10, 16, 16
PATHS = CASES * GROUP
STOP = ITEMS
NEG = -1e9
BETA = 0.01
WORLD_DIM, SHARPNESS, DRIFT = 16, 6.0, 0.35


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        normal = lambda *shape: nn.Parameter(0.1 * torch.randn(*shape))
        self.emb = normal(ITEMS, DIM)
        self.pos = normal(HISTORY + MAX_LEN + 1, DIM)  # last row: the target's position
        self.step_emb = normal(MAX_LEN + 1, DIM)
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(DIM, DIM, bias=False) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.ff1, self.ff2 = nn.Linear(DIM, 2 * DIM), nn.Linear(2 * DIM, DIM)
        self.head1, self.head2 = nn.Linear(4 * DIM, 2 * DIM), nn.Linear(2 * DIM, DIM)
        self.item_bias = nn.Parameter(torch.zeros(ITEMS))
        self.stop = nn.Linear(DIM, 1)

    def block_out(self, x, att):
        h1 = x + self.wo(att)
        return h1 + self.ff2(F.relu(self.ff1(self.ln2(h1))))

    def encode(self, hist, items, accepted, lengths, target):
        """States after t = 0..W path items [B, W+1, D] (teacher forcing); queries only at states."""
        B, W = items.shape
        T = HISTORY + W
        pos = torch.cat([torch.arange(T).clamp(max=HISTORY + MAX_LEN - 1), torch.tensor([HISTORY + MAX_LEN])])
        x = torch.cat([self.emb[torch.cat([hist, items], 1)], self.emb[target][:, None]], 1) + self.pos[pos]
        xn = self.ln1(x)
        k, v = self.wk(xn), self.wv(xn)
        qpos = torch.arange(HISTORY - 1, HISTORY + W)
        q = self.wq(xn[:, qpos])
        key = torch.arange(T + 1)
        path_ok = torch.ones(B, T + 1, dtype=torch.bool)
        path_ok[:, HISTORY:T] = accepted & (torch.arange(W)[None] < lengths[:, None])
        visible = ((key[None] <= qpos[:, None])[None] & path_ok[:, None]) | (key == T) | (key[None] == qpos[:, None])
        scores = q @ k.transpose(1, 2) / DIM ** 0.5 + torch.where(visible, 0.0, NEG)
        return self.block_out(x[:, qpos], torch.softmax(scores, -1) @ v)

    def start(self, hist, target):
        """Key/value cache of history and target; the state after 0 items."""
        x = torch.cat([self.emb[hist] + self.pos[:HISTORY], (self.emb[target] + self.pos[HISTORY + MAX_LEN])[:, None]], 1)
        xn = self.ln1(x)
        keys, values = self.wk(xn), self.wv(xn)
        mask = torch.zeros(keys.shape[:2])
        return self.attend_one(x[:, HISTORY - 1], self.wq(xn[:, HISTORY - 1]), keys, values, mask), (keys, values, mask)

    def attend_one(self, x, q, keys, values, mask):
        a = torch.softmax((keys @ q[:, :, None])[:, :, 0] / DIM ** 0.5 + mask, 1)
        return self.block_out(x, (a[:, :, None] * values).sum(1))

    def append(self, cache, item, accepted, position):
        keys, values, mask = cache
        x = self.emb[item] + self.pos[min(HISTORY + position, HISTORY + MAX_LEN - 1)]
        xn = self.ln1(x)
        k, v = self.wk(xn)[:, None], self.wv(xn)[:, None]
        h = self.attend_one(x, self.wq(xn), torch.cat([keys, k], 1), torch.cat([values, v], 1), torch.cat([mask, torch.zeros(len(item), 1)], 1))
        hidden = torch.where(accepted, 0.0, NEG)[:, None]
        return h, (torch.cat([keys, k], 1), torch.cat([values, v], 1), torch.cat([mask, hidden], 1))

    def logits(self, h, target, steps):
        e_t = self.emb[target]
        z = self.head2(F.relu(self.head1(torch.cat([h, e_t, h * e_t, self.step_emb[steps.clamp(max=MAX_LEN)]], 1))))
        return torch.cat([z @ self.emb.T + self.item_bias, self.stop(z)], 1)


def masks(hist, target, items, steps):
    """-1e9 on the history, the target and the path items before each term's step [M, N+1]."""
    m = torch.zeros(len(steps), ITEMS + 1)
    m.scatter_(1, hist, NEG)
    m.scatter_(1, target[:, None], NEG)
    if items.shape[1]:
        before = torch.where(torch.arange(items.shape[1])[None] < steps[:, None], items, target[:, None])
        m.scatter_(1, before, NEG)
    return m


class World:
    """synthetic-v0's exact dynamics: m <- (1 - eta) m + eta e_a; score_i = beta m.e_i + b_i."""

    def __init__(self, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.e = F.normalize(torch.randn(ITEMS, WORLD_DIM, generator=g, dtype=torch.float64), dim=1)
        self.b = -1 + 0.7 * torch.randn(ITEMS, generator=g, dtype=torch.float64)

    def open(self, hist, target):
        m = torch.zeros(len(hist), WORLD_DIM, dtype=torch.float64)
        for j in range(HISTORY):
            m = (1 - DRIFT) * m + DRIFT * self.e[hist[:, j]]
        state = {'m': m, 'target': target}
        state['logp'], state['rank'] = self.stats(m, target)
        return state

    def stats(self, m, target):
        s = SHARPNESS * m @ self.e.T + self.b
        t = s.gather(1, target[:, None])
        return (t - torch.logsumexp(s, 1, keepdim=True))[:, 0], 1 + (s > t).sum(1) + 0.5 * ((s == t).sum(1) - 1)

    def step(self, state, rows, items):
        m = state['m']
        ctr = torch.sigmoid(SHARPNESS * (m[rows] * self.e[items]).sum(1) + self.b[items])
        m[rows] = (1 - DRIFT) * m[rows] + DRIFT * self.e[items]
        logp, rank = self.stats(m[rows], state['target'][rows])
        reward = (logp - state['logp'][rows]) + (state['rank'][rows] - rank) + ctr
        state['logp'][rows], state['rank'][rows] = logp, rank
        return reward


@torch.no_grad()
def rollout(policy, world, hist, target):
    items = torch.zeros(PATHS, MAX_LEN, dtype=torch.long)
    lengths = torch.zeros(PATHS, dtype=torch.long)
    stopped = torch.zeros(PATHS, dtype=torch.bool)
    ret = torch.zeros(PATHS, dtype=torch.float64)
    state = world.open(hist, target)
    rows = torch.arange(PATHS)
    h, cache = policy.start(hist, target)
    for t in range(MAX_LEN):
        steps = torch.full((len(rows),), t)
        mask = masks(hist[rows], target[rows], items[rows, :t], steps)
        probs = torch.softmax(policy.logits(h, target[rows], steps) + mask, 1)
        action = torch.multinomial(probs, 1)[:, 0]
        go = action != STOP
        stopped[rows[~go]] = True
        rows, action = rows[go], action[go]
        if len(rows) == 0:
            break
        ret[rows] += world.step(state, rows, action)
        items[rows, t], lengths[rows] = action, t + 1
        keys, values, kmask = cache
        h, cache = policy.append((keys[go], values[go], kmask[go]), action, torch.ones(len(rows), dtype=torch.bool), t)
    return items, lengths, stopped, ret.float()


def update(policy, reference, optimizer, batch, hist, target, chunks):
    items, lengths, stopped, returns = batch
    params = list(policy.parameters())
    per_chunk, rows_per_chunk = [], PATHS // chunks
    for c in range(chunks):  # chunks of whole groups
        r = slice(c * rows_per_chunk, (c + 1) * rows_per_chunk)
        L, st, h, tg = lengths[r], stopped[r], hist[r], target[r]
        W = max(1, int(L.max()))
        its = items[r, :W]
        acc = torch.ones_like(its, dtype=torch.bool)
        t_idx = torch.arange(W + 1)[None].expand(len(L), -1)
        row, t = ((t_idx < L[:, None]) | ((t_idx == L[:, None]) & st[:, None])).nonzero(as_tuple=True)
        action = torch.where(t < L[row], its[row, t.clamp(max=W - 1)], STOP)
        mask = masks(h[row], tg[row], its[row], t)
        with torch.no_grad():
            ref_logp = F.log_softmax(reference.logits(reference.encode(h, its, acc, L, tg)[row, t], tg[row], t) + mask, 1)
        logp = F.log_softmax(policy.logits(policy.encode(h, its, acc, L, tg)[row, t], tg[row], t) + mask, 1)
        p = logp.exp()
        kl = (p * (logp - ref_logp)).sum()
        entropy = -(p * logp.clamp(min=-1e4)).sum()
        loss = -(returns[r][row] * logp.gather(1, action[:, None])[:, 0]).sum() / PATHS + BETA / PATHS * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        per_chunk.append([q.grad.clone() for q in params])
        _ = (loss.item(), kl.item(), entropy.item())  # logged
    total = [sum(g[i] for g in per_chunk) for i in range(len(params))]
    if chunks > 1:  # gradient-noise statistics, as the trainer logs them
        [torch.sqrt(sum(((chunks * gi) ** 2).sum() for gi in g)).item() for g in per_chunk]
        [sum(((chunks * gi - ti) ** 2).sum() for gi, ti in zip(g, total)).item() for g in per_chunk]
    for q, g in zip(params, total):
        q.grad = g
    torch.sqrt(sum((g ** 2).sum() for g in total)).item()  # logged gradient norm
    optimizer.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iters', type=int, default=5)
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    policy = Policy()
    reference = copy.deepcopy(policy).requires_grad_(False)
    decay = [p for p in policy.parameters() if p.ndim >= 2]
    no_decay = [p for p in policy.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-3)
    world = World()
    timings = {k: [] for k in ('rollout', 'rolloutCpu', 'update4', 'update4Cpu', 'update1', 'update1Cpu')}
    lengths = []
    for i in range(args.iters + 1):
        hist = torch.stack([torch.randperm(ITEMS)[:HISTORY] for _ in range(CASES)]).repeat_interleave(GROUP, 0)
        target = torch.randint(ITEMS, (CASES,)).repeat_interleave(GROUP, 0)
        w, c = time.perf_counter(), time.process_time()
        batch = rollout(policy, world, hist, target)
        sample = {'rollout': time.perf_counter() - w, 'rolloutCpu': time.process_time() - c}
        for chunks in (4, 1):
            w, c = time.perf_counter(), time.process_time()
            update(policy, reference, optimizer, batch, hist, target, chunks)
            sample[f'update{chunks}'] = time.perf_counter() - w
            sample[f'update{chunks}Cpu'] = time.process_time() - c
        if i > 0:
            for k, v in sample.items():
                timings[k].append(1000 * v)
            lengths.append(batch[1].float().mean().item())
    print(json.dumps({
        'torch': torch.__version__, 'threads': args.threads, 'paths': PATHS, 'iters': args.iters,
        'meanLength': statistics.mean(lengths),
        **{k + 'Ms': statistics.median(v) for k, v in timings.items()},
    }))


if __name__ == '__main__':
    main()
