"""Neuromodulated agents (Vecoven et al. 2020): the agent networks, the environment, A2C, deployment."""
