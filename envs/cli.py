"""`simlab envs [--json]`: the registered environments with their observation and action sizes."""
from __future__ import annotations

import json

from simlab import envs


def _cmd_envs(args) -> int:
    rows = []
    for name in envs.names():
        entry = envs.entry(name)
        env = envs.make(name)
        rows.append({"name": name, "gym_id": entry.gym_id if entry.gym else None,
                     "observation_shape": list(env.observation_spec.shape), "observation_size": env.observation_size,
                     "action_size": env.action_size, "action": type(env.action_spec).__name__.replace("Spec", ""),
                     "episode_length": env.default_episode_length, "dt": env.dt, "description": entry.description})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<22} {'gymnasium id':<32} {'obs':>6} {'act':>5} {'kind':<9} {'steps':>6}  description"
    print(header)
    print("-" * len(header))
    for r in rows:
        obs = "x".join(str(d) for d in r["observation_shape"])
        print(f"{r['name']:<22} {r['gym_id'] or '- (multi-agent)':<32} {obs:>6} {r['action_size']:>5} "
              f"{r['action']:<9} {r['episode_length'] or '-':>6}  {r['description']}")
    return 0


def add_envs_parser(sub) -> None:
    p = sub.add_parser("envs", help="list registered environments with observation/action sizes")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=_cmd_envs)
