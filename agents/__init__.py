"""simlab agents: learners that train in-process on any `engine.Env`, and the `simlab` CLI."""
