"""Permutation-invariant sensory-neuron (AttentionNeuron) agents; see docs/sensory.md."""
from simlab.agents.policy import RecurrentPolicy, make_mlp_policy
from simlab.agents.sensory.network import AttentionNeuron, make_attention_probe, make_sensory_policy, sinusoidal_table
from simlab.agents.sensory.tasks import CONDITIONS, TASKS, SensoryTask, condition_env, task_of

__all__ = ["AttentionNeuron", "RecurrentPolicy", "make_attention_probe", "make_mlp_policy", "make_sensory_policy",
           "sinusoidal_table", "CONDITIONS", "TASKS", "SensoryTask", "condition_env", "task_of"]
