"""Agents for the harness: subclass ``Agent``, implement ``act`` (and optionally ``train``,
``save``, ``load``), then ``prorec-gym bench --agent ./my_agent.py``.

The harness starts ``python3 -m prorec_gym.agent_main my_agent.py``, which finds the ``Agent``
subclass defined in the file and serves it over stdin/stdout (``serve_agent``). The protocol owns
stdout: ``print`` goes to stderr (the harness shows it, and the last lines of it when a run fails).
"""

import os
import sys
import threading
import time
import traceback

import numpy as np

from .data import Batch, EnvSpec
from .envs import ProrecVectorEnv
from .protocol import PROTOCOL_VERSION, Connection, ProtocolError


class Agent:
    """The base class of agents run by the harness.

    The harness creates one per run: ``Agent(config, env, seed)`` with the run's agent config (a
    dict, as given by ``--agent-config`` or the suite), the environment (an ``EnvSpec``) and the
    run's seed. ``act(batch)`` returns one action per row (an item id allowed by the row's
    ``action_mask``, or ``env.stop``). ``train(make_env, epochs, seed)``, when overridden, runs
    before evaluation: ``make_env(n)`` gives a ``ProrecVectorEnv`` of n rows on the train split
    (the harness never shows train a test case); ``self.log(step, **values)`` records learning
    curves, ``self.progress(fraction)`` moves the progress bar.
    """

    #: Its name in tables (default: the class's name).
    name = None

    def __init__(self, config, env, seed):
        self.config = config
        self.env = env
        self.seed = seed
        self._connection = None

    def act(self, batch):
        raise NotImplementedError("an Agent implements act(batch)")

    def train(self, make_env, epochs, seed):
        """Overridden by agents that train (``epochs``: the budget's, or None)."""

    def save(self, path):
        raise NotImplementedError("%s does not implement save(path)" % type(self).__name__)

    def load(self, path):
        raise NotImplementedError("%s does not implement load(path)" % type(self).__name__)

    def close(self):
        """Releases what the agent holds (called once, at the end of the run)."""

    def log(self, step, **values):
        """A point of the learning curves (finite numbers only), during ``train``."""
        if self._connection is not None:
            self._connection.send({"type": "log", "step": step, "values": {k: float(v) for k, v in values.items()}})

    def progress(self, fraction, message=None):
        """Progress of ``train`` in [0, 1], for the harness's progress bar."""
        if self._connection is not None:
            h = {"type": "progress", "fraction": min(1.0, max(0.0, float(fraction)))}
            if message is not None:
                h["message"] = str(message)
            self._connection.send(h)


def _trains(cls):
    return getattr(cls, "train", Agent.train) is not Agent.train


def _protocol_streams():
    """stdin and a private copy of stdout for the protocol; fd 1 (and sys.stdout) then go to stderr, so no print can corrupt a frame."""
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return sys.stdin.buffer, out


def _exit_with_parent(interval=0.5):
    """Ends this process when its parent (the harness) is gone, even while the agent is busy in act or train: a harness that dies without reaping it (killed, or a run in a worker thread when it exits) leaves no agent behind."""
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="prorec-gym-parent-watch", daemon=True).start()


def serve_agent(factory, name=None):
    """Serves an agent over stdin/stdout until ``close`` (or the end of stdin). ``factory(config, env, seed)`` builds it (an Agent subclass is one)."""
    _exit_with_parent()
    reader, writer = _protocol_streams()
    conn = Connection(reader, writer)
    agent = None
    spec = None
    label = name or getattr(factory, "name", None) or getattr(factory, "__name__", "agent")
    code = 0
    try:
        while True:
            try:
                m = conn.receive()
            except EOFError:
                break
            t = m.type
            try:
                if t == "hello":
                    if m.get("protocol") != PROTOCOL_VERSION:
                        raise ProtocolError("message 'hello', field 'protocol': the harness speaks version %r, this client %d" % (m.get("protocol"), PROTOCOL_VERSION))
                    conn.send({"type": "hello", "protocol": PROTOCOL_VERSION, "name": str(label), "trains": _trains(factory)})
                elif t == "create":
                    spec = EnvSpec(m)
                    agent = factory(m.get("config") or {}, spec, int(m.get("seed", 0)))
                    conn.send({"type": "created"})
                elif t == "act":
                    batch = Batch(m)
                    actions = np.asarray(agent.act(batch))
                    if actions.shape != (batch.rows,) or not np.issubdtype(actions.dtype, np.integer):
                        raise ValueError("act returned %s of shape %s; expected %d integer actions (one per row)" % (actions.dtype, actions.shape, batch.rows))
                    conn.send({"type": "actions"}, {"actions": actions.astype(np.int32)})
                elif t == "train":
                    agent._connection = conn
                    try:
                        agent.train(lambda n: ProrecVectorEnv(num_envs=n, connection=conn, spec=spec), m.get("epochs"), int(m.get("seed", 0)))
                    finally:
                        agent._connection = None
                    conn.send({"type": "trained"})
                elif t == "save":
                    agent.save(m.get("path"))
                    conn.send({"type": "saved"})
                elif t == "load":
                    agent.load(m.get("path"))
                    conn.send({"type": "loaded"})
                elif t == "close":
                    if agent is not None:
                        agent.close()
                    conn.send({"type": "closed"})
                    break
                else:
                    raise ProtocolError("message '%s' is not one of hello, create, act, train, save, load, close" % t)
            except Exception as e:  # the agent's own error ends the run with its message
                tb = traceback.format_exc()
                sys.stderr.write(tb)
                try:
                    conn.send({"type": "error", "message": "%s: %s" % (type(e).__name__, e), "traceback": tb})
                except Exception:
                    pass
                code = 1
                break
    except KeyboardInterrupt:
        code = 130
    finally:
        try:
            writer.flush()
        except Exception:
            pass
    return code
