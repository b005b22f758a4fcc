"""Gymnasium-style environments backed by the benchmark's own (TypeScript) environments.

``ProrecVectorEnv`` steps a batch of episodes (one per row); ``ProrecEnv`` one episode. Both talk
to an environment server: ``prorec-gym serve --env ID`` started as a child process (standalone
use), or the harness itself while an agent's ``train`` runs (``make_env`` in ``Agent.train``).
Observations are dicts of NumPy arrays (``Batch.as_dict``). There is no auto-reset: an episode
ends (terminated by STOP, truncated at max_length) and its row then ignores its actions until the
next ``reset``, as in the harness.

When ``gymnasium`` is importable the classes subclass ``gymnasium.Env`` /
``gymnasium.vector.VectorEnv`` and use its spaces; otherwise they use the stand-ins of
``prorec_gym.spaces`` and behave the same.
"""

import os
import shlex
import shutil
import subprocess

import numpy as np

from .data import Batch, EnvSpec
from .protocol import Connection

try:  # pragma: no cover - depends on the machine
    import gymnasium as _gym
    from gymnasium import spaces as _spaces

    _EnvBase = _gym.Env
    _VectorBase = _gym.vector.VectorEnv
except ImportError:
    _gym = None
    from . import spaces as _spaces

    _EnvBase = object
    _VectorBase = object

HAS_GYMNASIUM = _gym is not None


def _serve_command(env_id, env_config, world, data_dir):
    base = os.environ.get("PRORL_SERVE_COMMAND")
    if base:
        cmd = shlex.split(base)
    elif shutil.which("prorec-gym"):
        cmd = ["prorec-gym", "serve"]
    else:
        cmd = ["npx", "--no-install", "prorec-gym", "serve"]
    cmd += ["--env", env_id]
    if env_config:
        import json

        cmd += ["--env-config", json.dumps(env_config)]
    if world:
        import json

        cmd += ["--world", json.dumps(world)]
    if data_dir:
        cmd += ["--data-dir", str(data_dir)]
    return cmd


class ServedEnvironment:
    """A ``prorec-gym serve`` child process and its connection; closed with ``close()``."""

    def __init__(self, env_id, env_config=None, world=None, data_dir=None, command=None):
        cmd = list(command) if command is not None else _serve_command(env_id, env_config, world, data_dir)
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.connection = Connection(self.process.stdout, self.process.stdin)

    def close(self):
        if self.process.poll() is None:
            try:
                self.connection.send({"type": "close"})
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()
                self.process.wait()


def _spaces_for(spec, num_envs, H):
    N, L = spec.num_items, int(spec.max_length)
    single = _spaces.Dict(
        {
            "history": _spaces.Box(-1, N - 1, (H,), np.int32),
            "target": _spaces.Discrete(N),
            "step": _spaces.Discrete(L + 2),
            "action_mask": _spaces.MultiBinary(N + 1),
            "proposed": _spaces.Box(-1, N - 1, (L,), np.int32),
            "accepted": _spaces.Box(-1, 1, (L,), np.int32),
            "path": _spaces.Box(-1, N - 1, (L,), np.int32),
        }
    )
    batched = _spaces.Dict(
        {
            "history": _spaces.Box(-1, N - 1, (num_envs, H), np.int32),
            "target": _spaces.MultiDiscrete([N] * num_envs),
            "step": _spaces.MultiDiscrete([L + 2] * num_envs),
            "action_mask": _spaces.MultiBinary((num_envs, N + 1)),
            "proposed": _spaces.Box(-1, N - 1, (num_envs, L), np.int32),
            "accepted": _spaces.Box(-1, 1, (num_envs, L), np.int32),
            "path": _spaces.Box(-1, N - 1, (num_envs, L), np.int32),
        }
    )
    return single, batched


class ProrecVectorEnv(_VectorBase):
    """``num_envs`` episodes stepped together.

    ``ProrecVectorEnv("synthetic-v0", num_envs=16)`` starts ``prorec-gym serve --env synthetic-v0``
    (``env_config``, ``world``, ``data_dir`` are its options; ``command`` replaces the command line;
    the ``PRORL_SERVE_COMMAND`` environment variable replaces ``prorec-gym serve``). Inside
    ``Agent.train``, ``make_env(n)`` returns one over the harness's connection.

    ``reset(seed=None, options=None)`` -> ``(obs, info)``; options: ``split`` ("train" or "valid"),
    ``case_indices`` (one per row). ``step(actions)`` -> ``(obs, rewards, terminated, truncated,
    info)``; ``info`` holds per-row arrays (``accepted``, ``ioi``, ``ior``, ``ctr``, ...) and
    ``episode`` (a list: the episode summary on the step that ended a row, else None).
    ``batch`` is the last observations as a ``Batch`` (ragged rows unpadded).
    """

    metadata = {"render_modes": []}
    render_mode = None

    def __init__(self, env_id=None, num_envs=1, env_config=None, world=None, data_dir=None, command=None, connection=None, spec=None):
        self._served = None
        if connection is None:
            if env_id is None:
                raise ValueError("ProrecVectorEnv: give env_id (e.g. 'synthetic-v0') or a connection")
            self._served = ServedEnvironment(env_id, env_config, world, data_dir, command)
            connection = self._served.connection
        self._conn = connection
        if spec is None:
            spec = EnvSpec(self._conn.request({"type": "env.describe"}, reply="env.description"))
        self.env_spec = spec
        made = self._conn.request({"type": "env.make", "num_envs": int(num_envs)}, reply="env.made")
        self._id = made.get("env")
        self.num_envs = int(made.get("num_envs"))
        self.num_items = int(made.get("num_items"))
        self.stop = int(made.get("stop"))
        self.max_length = int(made.get("max_length"))
        # H: the longest history of the environment's cases; shorter ones are padded with -1.
        self.history_length = int(made.header["history_length"])
        spec.max_length = spec.max_length or self.max_length
        self.single_observation_space, self.observation_space = _spaces_for(spec, self.num_envs, self.history_length)
        self.single_action_space = _spaces.Discrete(self.num_items + 1)
        self.action_space = _spaces.MultiDiscrete([self.num_items + 1] * self.num_envs)
        self.batch = None
        self.closed = False

    def _observe(self, m):
        self.batch = Batch(m, self.history_length)
        return self.batch.as_dict(self.max_length)

    def reset(self, *, seed=None, options=None):
        options = dict(options or {})
        header = {"type": "env.reset", "env": self._id}
        if seed is not None:
            header["seed"] = int(seed)
        if options.get("split") is not None:
            header["split"] = options["split"]
        arrays = {}
        if options.get("case_indices") is not None:
            arrays["case_indices"] = np.asarray(options["case_indices"], dtype=np.int32)
        m = self._conn.request(header, arrays, reply="env.obs")
        info = {"case_index": m.arrays["case_index"], "replica": m.arrays["replica"], "split": m.get("split")}
        return self._observe(m), info

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError("ProrecVectorEnv.step: %d actions expected, got shape %s" % (self.num_envs, actions.shape))
        m = self._conn.request({"type": "env.step", "env": self._id}, {"actions": actions.astype(np.int32)}, reply="env.stepped")
        a = m.arrays
        info = {k[len("info.") :]: v for k, v in a.items() if k.startswith("info.")}
        for k in ("active", "accepted", "stop", "invalid", "left"):
            info[k] = info[k].astype(bool)
        info["episode"] = m.get("episodes")
        return self._observe(m), a["rewards"], a["terminated"].astype(bool), a["truncated"].astype(bool), info

    def close(self, **kwargs):
        if self.closed:
            return
        self.closed = True
        try:
            self._conn.request({"type": "env.close", "env": self._id}, reply="env.closed")
        finally:
            if self._served is not None:
                self._served.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ProrecEnv(_EnvBase):
    """One episode at a time: a ``ProrecVectorEnv`` of one row, with Gymnasium's single-env API.

    ``reset(seed=None, options=None)`` -> ``(obs, info)`` (options: ``split``, ``case_index``);
    ``step(action)`` -> ``(obs, reward, terminated, truncated, info)``.
    """

    metadata = {"render_modes": []}
    render_mode = None

    def __init__(self, env_id=None, vector=None, **kwargs):
        self.vector = vector if vector is not None else ProrecVectorEnv(env_id, num_envs=1, **kwargs)
        if self.vector.num_envs != 1:
            raise ValueError("ProrecEnv: the vector environment must have one row")
        self.observation_space = self.vector.single_observation_space
        self.action_space = self.vector.single_action_space
        self.env_spec = self.vector.env_spec

    @staticmethod
    def _row(obs):
        return {k: (v[0] if np.ndim(v) > 1 else v[0].item()) for k, v in obs.items()}

    def reset(self, *, seed=None, options=None):
        if _gym is not None:
            super().reset(seed=seed)
        options = dict(options or {})
        vopts = {"split": options.get("split")}
        if options.get("case_index") is not None:
            vopts["case_indices"] = [int(options["case_index"])]
        obs, info = self.vector.reset(seed=seed, options=vopts)
        return self._row(obs), {"case_index": int(info["case_index"][0]), "split": info["split"]}

    def step(self, action):
        obs, r, term, trunc, info = self.vector.step(np.array([int(action)], dtype=np.int32))
        one = {k: (v[0] if isinstance(v, (list, np.ndarray)) else v) for k, v in info.items()}
        return self._row(obs), float(r[0]), bool(term[0]), bool(trunc[0]), one

    def close(self):
        self.vector.close()
