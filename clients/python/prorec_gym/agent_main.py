"""``python3 -m prorec_gym.agent_main FILE``: serves the agent of a Python file (what ``--agent FILE.py`` runs).

The file defines one subclass of ``prorec_gym.Agent`` (or a callable ``make_agent(config, env,
seed)``). Its folder is put first on ``sys.path``, so it may import its neighbours.
"""

import importlib.util
import inspect
import os
import sys

from .agent import Agent, serve_agent


def load_factory(path):
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if callable(getattr(module, "make_agent", None)):
        return module.make_agent, name
    found = [c for _, c in inspect.getmembers(module, inspect.isclass) if issubclass(c, Agent) and c is not Agent and c.__module__ == name]
    if len(found) != 1:
        raise SystemExit(
            "%s: expected one subclass of prorec_gym.Agent (or a function make_agent), found %d%s"
            % (path, len(found), " (%s)" % ", ".join(c.__name__ for c in found) if found else "")
        )
    return found[0], found[0].name or name


def main(argv):
    if len(argv) != 1:
        sys.stderr.write("usage: python3 -m prorec_gym.agent_main AGENT.py\n")
        return 2
    factory, name = load_factory(argv[0])
    return serve_agent(factory, name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
