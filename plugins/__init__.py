"""simlab's own plug-ins: each sub-package registers itself through the `simlab.plugins` entry-point group
(declared in pyproject.toml, as a third party's would be) and is loaded by `simlab.ring`. The core
(engine, envs, agents, recsim) never imports this package."""
