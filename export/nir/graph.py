"""The structure of a NIR graph as modspike runs it: a chain from Input to Output, each neuron
with at most one self-recurrent synapse; nested graphs that are not modspike extensions are
flattened first."""

from __future__ import annotations

import nir

from modspike.errors import NIRError
from modspike.kinds.nir_values import modspike_meta


def is_synapse(node) -> bool:
    """A node that a synapse kind claims (the recurrence test needs to know)."""
    from modspike import registry

    kind = registry.claiming(node)
    return isinstance(kind, registry.SynapseKind)


def is_neuron(node) -> bool:
    from modspike import registry

    if _is_extension(node):
        return True
    kind = registry.claiming(node)
    return isinstance(kind, registry.CellKind)


def _is_extension(node) -> bool:
    return isinstance(node, nir.NIRGraph) and "extension" in modspike_meta(node)


def inline_subgraphs(nodes: dict, edges: list) -> tuple[dict, list]:
    """Flatten nested graphs that are not modspike extensions (e.g. snntorch's RNN subgraphs)."""
    nodes, edges = dict(nodes), list(edges)
    for name, node in list(nodes.items()):
        if not isinstance(node, nir.NIRGraph) or _is_extension(node):
            continue
        sub_nodes, sub_edges = inline_subgraphs(node.nodes, node.edges)
        ins = [k for k, v in sub_nodes.items() if isinstance(v, nir.Input)]
        outs = [k for k, v in sub_nodes.items() if isinstance(v, nir.Output)]
        if len(ins) != 1 or len(outs) != 1:
            raise NIRError(f"subgraph {name!r} needs exactly one Input and one Output node")
        del nodes[name]
        for k, v in sub_nodes.items():
            if k not in (ins[0], outs[0]):
                nodes[f"{name}.{k}"] = v
        preds = [a for a, b in edges if b == name]
        succs = [b for a, b in edges if a == name]
        edges = [(a, b) for a, b in edges if name not in (a, b)]
        for a, b in sub_edges:
            if a == ins[0] and b == outs[0]:
                edges += [(p, s) for p in preds for s in succs]
            elif a == ins[0]:
                edges += [(p, f"{name}.{b}") for p in preds]
            elif b == outs[0]:
                edges += [(f"{name}.{a}", s) for s in succs]
            else:
                edges.append((f"{name}.{a}", f"{name}.{b}"))
    return nodes, edges


def chain(nodes: dict, edges: list) -> tuple[list[str], dict[str, str]]:
    """The path from Input to Output, and the recurrent synapse of each neuron on it."""
    ins = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(ins) != 1 or len(outs) != 1:
        raise NIRError(
            f"modspike runs graphs with one Input and one Output; this one has {len(ins)} and"
            f" {len(outs)}"
        )
    for a, b in edges:
        if a not in nodes or b not in nodes:
            raise NIRError(f"edge ({a!r}, {b!r}) refers to a node that does not exist")
    edge_set = set(edges)
    recurrent: dict[str, str] = {}
    for a, b in edge_set:
        if (b, a) in edge_set and is_synapse(nodes[a]) and is_neuron(nodes[b]):
            n_pred = sum(1 for e in edge_set if e[1] == a)
            n_succ = sum(1 for e in edge_set if e[0] == a)
            if n_pred == 1 and n_succ == 1:
                recurrent[b] = a
    rec_nodes = set(recurrent.values())
    forward = [(a, b) for a, b in edges if a not in rec_nodes and b not in rec_nodes]
    succs: dict[str, list[str]] = {k: [] for k in nodes}
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in forward:
        succs[a].append(b)
        preds[b].append(a)
    path, cur, seen = [], ins[0], {ins[0]}
    while cur != outs[0]:
        if len(succs[cur]) != 1:
            raise NIRError(
                f"unsupported topology: node {cur!r} feeds {len(succs[cur])} nodes; modspike runs"
                " chains of layers (with self-recurrence through one Linear/Affine)"
            )
        nxt = succs[cur][0]
        if len(preds[nxt]) != 1:
            raise NIRError(
                f"unsupported topology: node {nxt!r} has {len(preds[nxt])} inputs (skip connections"
                " and multi-layer cycles are not supported)"
            )
        if nxt in seen:
            raise NIRError(f"unsupported topology: a cycle through {nxt!r}")
        seen.add(nxt)
        path.append(nxt)
        cur = nxt
    stray = set(nodes) - seen - rec_nodes
    if stray:
        raise NIRError(f"nodes off the input-output path: {', '.join(sorted(stray))}")
    return path[:-1], recurrent
