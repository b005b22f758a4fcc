"""prorec_gym: the Python client of prorec-gym (standard library and NumPy only).

- ``Agent``: subclass it and run ``prorec-gym bench --agent ./my_agent.py``.
- ``ProrecVectorEnv`` / ``ProrecEnv``: the benchmark's environments with Gymnasium's API, served
  by ``prorec-gym serve --env ID`` (or by the harness during ``Agent.train``).

The protocol underneath is specified in the package's docs/agent-protocol.md.
"""

from .agent import Agent, serve_agent
from .data import Batch, EnvSpec
from .envs import HAS_GYMNASIUM, ProrecEnv, ProrecVectorEnv
from .protocol import PROTOCOL_VERSION, ProrecError, ProtocolError

__all__ = [
    "Agent",
    "Batch",
    "EnvSpec",
    "HAS_GYMNASIUM",
    "PROTOCOL_VERSION",
    "ProrecEnv",
    "ProrecError",
    "ProrecVectorEnv",
    "ProtocolError",
    "serve_agent",
]
