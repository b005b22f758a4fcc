#!/usr/bin/env python3
"""PyTorch-CPU reference for `npm run perf -- rl`: one RL update of prorec-gym's trainer, written in
PyTorch to mirror agents/policy.ts, agents/rollout.ts and policyGradientStep (agents/rl.ts), so the
TypeScript figures have a yardstick on the same machine.

Per update: 16 cases x G = 16 = 256 paths of at most 10 items.
- Policy (agents/policy.ts defaults): item table E [N x 64] (a free embedding plus, with
  `--features F`, fixed content features [N x F] times a learned projection, as the item prior);
  one pre-norm causal self-attention block (single head) over history (10) + path with the target
  as an extra key every position sees; head MLP on [h, e_T, h * e_T, step embedding] -> z; logits
  z.E^T + b (items) and z.w + b (STOP); forbidden: the history, the target, items already in the path.
- Rollout: sampled step by step, acting with a key/value cache (one new token per step, as
  IncrementalPolicy does); rows that stop leave the batch. The reward model (training rollouts do
  not step the evaluator): `--world synthetic`, synthetic-v0's exact dynamics (moving-average
  interest over 1,000 x 16 item vectors, float64: per step the CTR of the item, then log p(T) and
  rank(T) from the scores of all items); `--world sasrec`, a SASRec of the architecture given by
  `--sasrec` with a key/value cache (SasrecWorld; e.g. ml-1m-v0's reward model).
- Update: teacher-forced log-probabilities of every term (items and STOP) under the policy and,
  without gradient, the reference policy; loss = -(1/N) sum A l + (beta/N) sum KL (exact per-step
  KL), A = the path return (REINFORCE); `chunks` gradient passes over groups of whole cases with
  the gradient-noise statistics (as gradChunks), then AdamW.

Prints one JSON object: the BLAS library loaded (torch's CPU products run on it: a reference BLAS
is several times slower than OpenBLAS or MKL), medians (ms, wall and process CPU) of rollout and
update over `--iters` updates after one warm-up, for chunks 4 and 1, and the mean path length.
Usage: python3 torch_rl.py [--iters 5] [--threads 1] [--items 1000] [--features 0]
                           [--world synthetic|sasrec] [--sasrec JSON]
(set OPENBLAS_NUM_THREADS / MKL_NUM_THREADS too: --threads does not bind the BLAS's own threads).
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
    def __init__(self, features=0):
        super().__init__()
        normal = lambda *shape: nn.Parameter(0.1 * torch.randn(*shape))
        self.emb = normal(ITEMS, DIM)
        # The item prior (agents/policy.ts itemPrior): E = free embedding + content [N x F] . projection.
        # The content features are fixed inputs; their values do not change the work.
        self.register_buffer('content', torch.rand(ITEMS, features) if features else None)
        self.prior_proj = normal(features, DIM) if features else None
        self.pos = normal(HISTORY + MAX_LEN + 1, DIM)  # last row: the target's position
        self.step_emb = normal(MAX_LEN + 1, DIM)
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(DIM, DIM, bias=False) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.ff1, self.ff2 = nn.Linear(DIM, 2 * DIM), nn.Linear(2 * DIM, DIM)
        self.head1, self.head2 = nn.Linear(4 * DIM, 2 * DIM), nn.Linear(2 * DIM, DIM)
        self.item_bias = nn.Parameter(torch.zeros(ITEMS))
        self.stop = nn.Linear(DIM, 1)

    def item_table(self):
        """E [N x D], computed once per forward pass (as PolicyNetwork.itemTable)."""
        return self.emb if self.content is None else self.emb + self.content @ self.prior_proj

    def block_out(self, x, att):
        h1 = x + self.wo(att)
        return h1 + self.ff2(F.relu(self.ff1(self.ln2(h1))))

    def encode(self, E, hist, items, accepted, lengths, target):
        """States after t = 0..W path items [B, W+1, D] (teacher forcing); queries only at states."""
        B, W = items.shape
        T = HISTORY + W
        pos = torch.cat([torch.arange(T).clamp(max=HISTORY + MAX_LEN - 1), torch.tensor([HISTORY + MAX_LEN])])
        x = torch.cat([E[torch.cat([hist, items], 1)], E[target][:, None]], 1) + self.pos[pos]
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

    def start(self, E, hist, target):
        """Key/value cache of history and target; the state after 0 items."""
        x = torch.cat([E[hist] + self.pos[:HISTORY], (E[target] + self.pos[HISTORY + MAX_LEN])[:, None]], 1)
        xn = self.ln1(x)
        keys, values = self.wk(xn), self.wv(xn)
        mask = torch.zeros(keys.shape[:2])
        return self.attend_one(x[:, HISTORY - 1], self.wq(xn[:, HISTORY - 1]), keys, values, mask), (keys, values, mask)

    def attend_one(self, x, q, keys, values, mask):
        a = torch.softmax((keys @ q[:, :, None])[:, :, 0] / DIM ** 0.5 + mask, 1)
        return self.block_out(x, (a[:, :, None] * values).sum(1))

    def append(self, E, cache, item, accepted, position):
        keys, values, mask = cache
        x = E[item] + self.pos[min(HISTORY + position, HISTORY + MAX_LEN - 1)]
        xn = self.ln1(x)
        k, v = self.wk(xn)[:, None], self.wv(xn)[:, None]
        h = self.attend_one(x, self.wq(xn), torch.cat([keys, k], 1), torch.cat([values, v], 1), torch.cat([mask, torch.zeros(len(item), 1)], 1))
        hidden = torch.where(accepted, 0.0, NEG)[:, None]
        return h, (torch.cat([keys, k], 1), torch.cat([values, v], 1), torch.cat([mask, hidden], 1))

    def logits(self, E, h, target, steps):
        e_t = E[target]
        z = self.head2(F.relu(self.head1(torch.cat([h, e_t, h * e_t, self.step_emb[steps.clamp(max=MAX_LEN)]], 1))))
        return torch.cat([z @ E.T + self.item_bias, self.stop(z)], 1)


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


class SasrecWorld:
    """Stand-in for a SASRec reward model (simulators/model.ts, simulators/batch.ts), for an
    environment such as ml-1m-v0: the same architecture and the same work per step, with random
    weights (their values do not change the work). open: the history through `blocks` pre-norm
    blocks of `heads`-head causal self-attention, keys and values cached per block; step: one new
    token per row (every row of the batch, as the TS batch does, rows that left fed item 0 and
    ignored) attends to the cached keys; CTR of the item under the state before it; scores of all
    N items u.E^T + b, log p(T) and rank(T) of every row. float32, as the TS simulator."""

    def __init__(self, hidden, blocks, heads, feed_forward, max_len):
        d = hidden
        self.d, self.heads, self.dh, self.max_len = d, heads, d // heads, max_len
        self.E, self.b = torch.randn(ITEMS, d) / d ** 0.5, torch.zeros(ITEMS)
        self.pos = 0.1 * torch.randn(max_len, d)
        self.blocks = [
            dict(ln1=nn.LayerNorm(d), q=nn.Linear(d, d), k=nn.Linear(d, d), v=nn.Linear(d, d), o=nn.Linear(d, d),
                 ln2=nn.LayerNorm(d), ff1=nn.Linear(d, feed_forward), ff2=nn.Linear(feed_forward, d))
            for _ in range(blocks)
        ]
        self.ln = nn.LayerNorm(d)

    def split(self, t):  # [B, L, d] -> [B, heads, L, dh]
        return t.reshape(t.shape[0], t.shape[1], self.heads, self.dh).transpose(1, 2)

    def layer_tail(self, blk, x, o):
        x = x + blk['o'](o)
        return x + blk['ff2'](F.relu(blk['ff1'](blk['ln2'](x))))

    def open(self, hist, target):
        B, L = hist.shape
        x = self.E[hist] * self.d ** 0.5 + self.pos[:L]
        causal = torch.triu(torch.full((L, L), NEG), 1)
        cache = []
        for blk in self.blocks:
            a = blk['ln1'](x)
            q, k, v = self.split(blk['q'](a)), self.split(blk['k'](a)), self.split(blk['v'](a))
            att = torch.softmax(q @ k.transpose(2, 3) / self.dh ** 0.5 + causal, -1)
            x = self.layer_tail(blk, x, (att @ v).transpose(1, 2).reshape(B, L, self.d))
            cache.append((k, v))
        state = {'user': self.ln(x[:, -1]), 'cache': cache, 'length': L, 'target': target}
        state['logp'], state['rank'] = self.stats(state['user'], target)
        return state

    def stats(self, user, target):
        s = user @ self.E.T + self.b
        t = s.gather(1, target[:, None])
        return (t - torch.logsumexp(s, 1, keepdim=True))[:, 0], 1 + (s > t).sum(1) + 0.5 * ((s == t).sum(1) - 1)

    def step(self, state, rows, items):
        B = len(state['target'])
        fed = torch.zeros(B, dtype=torch.long)
        fed[rows] = items
        user = state['user']
        ctr = torch.sigmoid((user[rows] * self.E[items]).sum(1) + self.b[items])
        x = self.E[fed] * self.d ** 0.5 + self.pos[min(state['length'], self.max_len - 1)]
        cache = []
        for blk, (K, V) in zip(self.blocks, state['cache']):
            a = blk['ln1'](x)
            q = blk['q'](a).reshape(B, self.heads, 1, self.dh)
            K = torch.cat([K, blk['k'](a).reshape(B, self.heads, 1, self.dh)], 2)
            V = torch.cat([V, blk['v'](a).reshape(B, self.heads, 1, self.dh)], 2)
            att = torch.softmax(q @ K.transpose(2, 3) / self.dh ** 0.5, -1)
            x = self.layer_tail(blk, x, (att @ V).reshape(B, self.d))
            cache.append((K, V))
        new_user = self.ln(x)
        user = user.clone()
        user[rows] = new_user[rows]
        state.update(user=user, cache=cache, length=state['length'] + 1)
        logp, rank = self.stats(user[rows], state['target'][rows])
        reward = (logp - state['logp'][rows]) + (state['rank'][rows] - rank) + ctr
        state['logp'][rows], state['rank'][rows] = logp, rank
        return reward.double()


@torch.no_grad()
def rollout(policy, world, hist, target):
    items = torch.zeros(PATHS, MAX_LEN, dtype=torch.long)
    lengths = torch.zeros(PATHS, dtype=torch.long)
    stopped = torch.zeros(PATHS, dtype=torch.bool)
    ret = torch.zeros(PATHS, dtype=torch.float64)
    state = world.open(hist, target)
    rows = torch.arange(PATHS)
    E = policy.item_table()
    h, cache = policy.start(E, hist, target)
    for t in range(MAX_LEN):
        steps = torch.full((len(rows),), t)
        mask = masks(hist[rows], target[rows], items[rows, :t], steps)
        probs = torch.softmax(policy.logits(E, h, target[rows], steps) + mask, 1)
        action = torch.multinomial(probs, 1)[:, 0]
        go = action != STOP
        stopped[rows[~go]] = True
        rows, action = rows[go], action[go]
        if len(rows) == 0:
            break
        ret[rows] += world.step(state, rows, action)
        items[rows, t], lengths[rows] = action, t + 1
        keys, values, kmask = cache
        h, cache = policy.append(E, (keys[go], values[go], kmask[go]), action, torch.ones(len(rows), dtype=torch.bool), t)
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
            E_ref = reference.item_table()
            ref_logp = F.log_softmax(reference.logits(E_ref, reference.encode(E_ref, h, its, acc, L, tg)[row, t], tg[row], t) + mask, 1)
        E = policy.item_table()
        logp = F.log_softmax(policy.logits(E, policy.encode(E, h, its, acc, L, tg)[row, t], tg[row], t) + mask, 1)
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


def blas_library():
    """The BLAS shared library this process loaded (torch's CPU matrix products run on it)."""
    try:
        with open('/proc/self/maps') as maps:
            libs = sorted({line.split()[-1] for line in maps if any(k in line.lower() for k in ('blas', 'mkl'))})
    except OSError:
        libs = []
    libs = [l for l in libs if 'lapack' not in l.split('/')[-1]]
    named = [l for l in libs if 'openblas' in l.split('/')[-1] or 'mkl' in l.split('/')[-1]]
    return (named or libs)[0] if libs else torch.__config__.show().split('BLAS_INFO=')[-1].split(',')[0] + ' (from the build settings)'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iters', type=int, default=5)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--items', type=int, default=1000, help='N (the environment\'s item count)')
    ap.add_argument('--features', type=int, default=0, help='width of the policy\'s item-prior content features (0: none)')
    ap.add_argument('--world', choices=('synthetic', 'sasrec'), default='synthetic', help='the reward model: synthetic-v0\'s dynamics or a SASRec')
    ap.add_argument('--sasrec', default='{"hidden": 64, "blocks": 2, "heads": 2, "feedForward": 256, "maxLen": 50}',
                    help='the SASRec reward model\'s architecture (JSON, as simulators/config.ts)')
    args = ap.parse_args()
    global ITEMS, STOP
    ITEMS = STOP = args.items
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    policy = Policy(args.features)
    reference = copy.deepcopy(policy).requires_grad_(False)
    decay = [p for p in policy.parameters() if p.ndim >= 2]
    no_decay = [p for p in policy.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-3)
    if args.world == 'synthetic':
        world = World()
    else:
        c = json.loads(args.sasrec)
        world = SasrecWorld(c['hidden'], c['blocks'], c['heads'], c['feedForward'], c['maxLen'])
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
        'blas': blas_library(),
        'torch': torch.__version__, 'threads': args.threads, 'paths': PATHS, 'iters': args.iters,
        'items': ITEMS, 'features': args.features, 'world': args.world,
        'meanLength': statistics.mean(lengths),
        **{k + 'Ms': statistics.median(v) for k, v in timings.items()},
    }))


if __name__ == '__main__':
    main()
