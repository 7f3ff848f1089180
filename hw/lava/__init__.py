"""Lava mapping of the network description: processes, graph, closed-loop session."""
