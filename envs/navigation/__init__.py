"""Navigation tasks: single-robot goal reaching and decentralized multi-agent rendezvous."""
