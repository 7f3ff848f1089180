"""Numpy reference runs of NIR graphs under each producer's discrete-time semantics.

NIR has no time step and no reset mode: every library that writes NIR means its own discrete
update by the parameters it writes (docs/nir-producers.md). `run_graph(graph, producer, x)` runs
a NIR graph read from a file the way `producer` runs the network it exported, so that the spikes
recorded from the producer itself (tests/data/peers/) can be reproduced from the file alone.

Only numpy and nir are needed; the producers themselves are not. The code is deliberately
small and literal (one function per neuron type and producer), so that each formula can be read
next to the producer's source cited in docs/nir-producers.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

PRODUCERS = ("snntorch", "norse", "sinabs", "rockpool", "spyx", "spikingjelly")
NEURONS = (nir.LIF, nir.CubaLIF, nir.IF, nir.LI)


@dataclass(frozen=True)
class Semantics:
    """What a producer's file means; the parts the file itself does not say.

    dt: the time step the producer used to turn its discrete parameters into `tau` etc.
    reset: "zero" or "subtract" (the file has no field for it; `v_reset` is 0 in every file).
    multispike: output floor(v / threshold) spikes per step instead of one (sinabs, rockpool).
    """

    producer: str
    dt: float
    reset: str
    multispike: bool = False


def semantics(producer: str, reset: str | None = None, dt: float | None = None) -> Semantics:
    """The default semantics of `producer`'s NIR files (reset/dt override the defaults)."""
    defaults = {
        "snntorch": Semantics("snntorch", 1e-4, "subtract"),
        "norse": Semantics("norse", 1e-3, "zero"),
        "sinabs": Semantics("sinabs", 1.0, "subtract", multispike=True),
        "rockpool": Semantics("rockpool", 1e-3, "subtract", multispike=True),
        "spyx": Semantics("spyx", 1.0, "subtract"),
        "spikingjelly": Semantics("spikingjelly", 1e-4, "zero"),
    }
    if producer not in defaults:
        raise ValueError(f"unknown producer {producer!r}; known: {', '.join(PRODUCERS)}")
    s = defaults[producer]
    return Semantics(
        s.producer,
        s.dt if dt is None else dt,
        s.reset if reset is None else reset,
        s.multispike,
    )


# ----------------------------------------------------------------------------------------------
# graph handling


def flatten_graph(graph: nir.NIRGraph, prefix: str = "") -> tuple[dict, list]:
    """Nodes and edges with nested sub-graphs inlined (their Input/Output become pass-throughs)."""
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = flatten_graph(node, prefix + name + ".")
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
        else:
            nodes[prefix + name] = node

    def entry(n: str) -> str:
        node = graph.nodes[n]
        if isinstance(node, nir.NIRGraph):
            (inp,) = [k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            return prefix + n + "." + inp
        return prefix + n

    def exit_(n: str) -> str:
        node = graph.nodes[n]
        if isinstance(node, nir.NIRGraph):
            (out,) = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            return prefix + n + "." + out
        return prefix + n

    edges.extend((exit_(a), entry(b)) for a, b in graph.edges)
    return nodes, edges


def schedule(nodes: dict, edges: list) -> tuple[list[str], set]:
    """Evaluation order within one step and the set of back edges (read one step late).

    Back edges are those that close a cycle in a depth-first walk from the Input nodes: this is
    how nirtorch (and so snntorch, norse, sinabs, rockpool) runs recurrent graphs.
    """
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    post: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        for m in succ[n]:
            if state.get(m) == 1:
                back.add((n, m))
            elif m not in state:
                visit(m)
        state[n] = 2
        post.append(n)

    for n, node in nodes.items():
        if isinstance(node, nir.Input) and n not in state:
            visit(n)
    for n in nodes:
        if n not in state:
            visit(n)
    return post[::-1], back


# ----------------------------------------------------------------------------------------------
# synapses (float64; batch-free shapes, (C, H, W) for images)


def _pair(v) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v)).astype(int).ravel()
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def conv2d(x: np.ndarray, w: np.ndarray, b, stride, padding, dilation, groups: int) -> np.ndarray:
    """torch.nn.functional.conv2d on one (C, H, W) sample."""
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    kh, kw = w.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            ph = pw = 0
        else:  # "same" with stride 1
            ph, pw = (dh * (kh - 1)) // 2, (dw * (kw - 1)) // 2
    else:
        ph, pw = _pair(padding)
    c, h, wd = x.shape
    xp = np.zeros((c, h + 2 * ph, wd + 2 * pw))
    xp[:, ph : ph + h, pw : pw + wd] = x
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    o = w.shape[0]
    out = np.zeros((o, ho, wo))
    cin_g, cout_g = c // groups, o // groups
    for g in range(groups):
        xs = xp[g * cin_g : (g + 1) * cin_g]
        ws = w[g * cout_g : (g + 1) * cout_g]
        for i in range(kh):
            for j in range(kw):
                patch = xs[
                    :,
                    i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                    j * dw : j * dw + sw * (wo - 1) + 1 : sw,
                ]
                out[g * cout_g : (g + 1) * cout_g] += np.einsum(
                    "oc,chw->ohw", ws[:, :, i, j], patch
                )
    if b is not None:
        out += np.asarray(b, dtype=np.float64).reshape(-1, 1, 1)
    return out


def pool2d(x: np.ndarray, kernel, stride, padding, average: bool) -> np.ndarray:
    """Sum or average pooling of one (C, H, W) sample (average counts the padding, as torch)."""
    c = x.shape[0]
    kh, kw = _pair(kernel)
    w = np.ones((c, 1, kh, kw)) / (kh * kw if average else 1.0)
    return conv2d(x, w, None, stride, padding, 1, groups=c)


def flatten(x: np.ndarray, start_dim: int, end_dim: int) -> np.ndarray:
    nd = x.ndim
    s = start_dim % nd
    e = end_dim % nd
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1 :])


def synapse(node: nir.NIRNode, x: np.ndarray, sem: Semantics) -> np.ndarray:
    if isinstance(node, (nir.Input, nir.Output)):
        return x
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = np.asarray(node.weight, dtype=np.float64)
        y = w @ x
        if isinstance(node, nir.Affine):
            y = y + np.asarray(node.bias, dtype=np.float64)
        return y
    if isinstance(node, nir.Conv2d):
        return conv2d(
            x,
            np.asarray(node.weight, dtype=np.float64),
            node.bias,
            node.stride,
            node.padding,
            node.dilation,
            int(node.groups),
        )
    if isinstance(node, nir.SumPool2d):
        return pool2d(x, node.kernel_size, node.stride, node.padding, average=False)
    if isinstance(node, nir.AvgPool2d):
        return pool2d(x, node.kernel_size, node.stride, node.padding, average=True)
    if isinstance(node, nir.Flatten):
        return flatten(x, int(node.start_dim), int(node.end_dim))
    if isinstance(node, nir.Scale):
        return np.asarray(node.scale, dtype=np.float64) * x
    raise NotImplementedError(f"no reference for {type(node).__name__}")


# ----------------------------------------------------------------------------------------------
# neurons: one step each; `state` is a dict of arrays, `i_in` the summed input of this step


def _p(node, name, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(getattr(node, name), dtype=np.float64), shape)


def _fire(v: np.ndarray, thr: np.ndarray, sem: Semantics, ge: bool = False) -> np.ndarray:
    if sem.multispike:  # sinabs MultiSpike, rockpool StepPWL: floor(v / thr) spikes if v >= thr
        return np.where(v >= thr, np.floor(v / thr), 0.0)
    return (v >= thr if ge else v > thr).astype(np.float64)


def neuron_step(node, state: dict, i_in: np.ndarray, sem: Semantics) -> np.ndarray:
    """Advance `state` by one step of `sem.producer`'s update; return this step's output."""
    shape = i_in.shape
    dt = sem.dt
    p = sem.producer
    if not state:
        state.update(v=np.zeros(shape), i=np.zeros(shape), s=np.zeros(shape))
    v, s_prev = state["v"], state["s"]

    if isinstance(node, nir.LIF):
        tau, r = _p(node, "tau", shape), _p(node, "r", shape)
        thr, v_leak = _p(node, "v_threshold", shape), _p(node, "v_leak", shape)
        if p == "snntorch":  # beta = 1 - dt/tau, input gain (dt/tau)·r = 1, reset from s[t-1]
            beta = 1.0 - dt / tau
            x = dt / tau * (r * i_in + v_leak)
            if sem.reset == "zero":
                v = beta * v * (1.0 - s_prev) + x
            else:
                v = beta * v + x - s_prev * thr
            s = (v > thr).astype(np.float64)
        elif p == "norse":  # LIFBoxCell: forward Euler with the file's tau = dt·tau_true
            a = dt * dt / tau
            v = v + a * (v_leak - v + r * i_in)
            s = (v > thr).astype(np.float64)
            v = np.where(s > 0, 0.0, v)
        elif p == "sinabs":  # tau in steps, exact exponential, normalised input
            alpha = np.exp(-dt / tau)
            v = alpha * v + (1.0 - alpha) * r * i_in
            s = _fire(v, thr, sem)
            v = v - s * thr
        elif p == "spikingjelly":  # LIFNode: plain forward Euler; fires at v >= threshold
            v = v + dt / tau * (v_leak - v + r * i_in)
            s = (v >= thr).astype(np.float64)
            v = np.where(s > 0, _p(node, "v_reset", shape), v)
        elif p == "spyx":  # tau = 1/(1 - beta); spike read from v[t-1]; r holds beta (unused)
            beta = 1.0 - dt / tau
            s = (v > thr).astype(np.float64)
            v = beta * v + i_in - s * thr
        else:
            raise NotImplementedError(f"LIF for {p}")
        state.update(v=v, s=s)
        return s

    if isinstance(node, nir.CubaLIF):
        tau_m, tau_s = _p(node, "tau_mem", shape), _p(node, "tau_syn", shape)
        r, w_in = _p(node, "r", shape), _p(node, "w_in", shape)
        thr, v_leak = _p(node, "v_threshold", shape), _p(node, "v_leak", shape)
        i = state["i"]
        if p == "snntorch":  # Synaptic: alpha = 1 - dt/tau_syn, beta = 1 - dt/tau_mem
            alpha, beta = 1.0 - dt / tau_s, 1.0 - dt / tau_m
            i = alpha * i + dt / tau_s * w_in * i_in
            v_new = beta * v + dt / tau_m * (r * i + v_leak)
            if sem.reset == "zero":  # the whole new value is zeroed on the step after a spike
                v = v_new * (1.0 - s_prev)
            else:
                v = v_new - s_prev * thr
            s = (v > thr).astype(np.float64)
        elif p == "norse":  # LIFCell: current jump first, v uses the new current
            i = i + w_in * i_in
            v = v + dt * dt / tau_m * (v_leak - v + r * i)
            i = i - dt * dt / tau_s * i
            s = (v > thr).astype(np.float64)
            v = np.where(s > 0, 0.0, v)
        elif p == "rockpool":  # LIFTorch: exact exponentials with dt; r = tau·exp(-dt/tau)/dt
            alpha, beta = np.exp(-dt / tau_m), np.exp(-dt / tau_s)
            i = (i + w_in * i_in) * beta
            v = alpha * v + i
            s = _fire(v, thr, sem)
            v = v - s * thr
        elif p == "sinabs":  # LIF(tau_syn=...): i decays after the input is added; tau in steps
            alpha_m, alpha_s = np.exp(-dt / tau_m), np.exp(-dt / tau_s)
            i = alpha_s * (i + w_in * i_in)
            v = alpha_m * v + (1.0 - alpha_m) * r * i
            s = _fire(v, thr, sem)
            v = v - s * thr
        elif p == "spyx":  # CuBaLIF: spike read from v[t-1]; the threshold is subtracted twice
            alpha, beta = 1.0 - dt / tau_s, 1.0 - dt / tau_m
            s = (v > thr).astype(np.float64)
            i = alpha * i + i_in
            v = beta * (v - s * thr) + i - s * thr
        else:
            raise NotImplementedError(f"CubaLIF for {p}")
        state.update(v=v, i=i, s=s)
        return s

    if isinstance(node, nir.IF):
        r, thr = _p(node, "r", shape), _p(node, "v_threshold", shape)
        if p == "sinabs":  # IAF: v += x, MultiSpike, subtract
            v = v + r * i_in
            s = _fire(v, thr, sem)
            v = v - s * thr
        else:
            raise NotImplementedError(f"IF for {p}")
        state.update(v=v, s=s)
        return s

    raise NotImplementedError(f"no reference for {type(node).__name__}")


# ----------------------------------------------------------------------------------------------


class _Zero:
    """A stand-in for a back-edge source before its first evaluation (adds nothing)."""

    def __radd__(self, other):
        return other

    def __add__(self, other):
        return other


def _zeros_like_sources(back: set, nodes: dict) -> dict:
    return {a: _Zero() for a, _ in back}


def node_key(graph: nir.NIRGraph, name: str) -> str:
    """The node of the flattened graph that holds the output of the producer's layer `name`.

    A layer exported as a sub-graph (snntorch RLeaky: nodes `1.lif`, `1.w_rec`) is recorded
    under its layer name (`1`); its neuron node carries its output.
    """
    nodes, _ = flatten_graph(graph)
    if name in nodes:
        return name
    (key,) = [k for k, v in nodes.items() if k.startswith(name + ".") and isinstance(v, NEURONS)]
    return key


def run_graph(
    graph: nir.NIRGraph, sem: Semantics, x: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run `graph` on x of shape (T, *input_shape) (no batch); return (output, {node: output})."""
    nodes, edges = flatten_graph(graph)
    order, back = schedule(nodes, edges)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        preds[b].append(a)
    inputs = [n for n in order if isinstance(nodes[n], nir.Input) and not preds[n]]
    has_succ = {a for a, _ in edges}
    outputs = [n for n in order if isinstance(nodes[n], nir.Output) and n not in has_succ]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NotImplementedError(f"one Input and one Output expected, got {inputs}, {outputs}")
    (inp,), (out,) = inputs, outputs

    states: dict[str, dict] = {n: {} for n in nodes}

    def step(xt: np.ndarray, prev: dict, rest: bool) -> dict[str, np.ndarray]:
        cur: dict[str, np.ndarray] = {}
        for n in order:
            if n == inp:
                cur[n] = np.asarray(xt, dtype=np.float64)
                continue
            terms = [prev[a] if (a, n) in back else cur[a] for a in preds[n]]
            val = terms[0]
            for term in terms[1:]:
                val = val + term
            node = nodes[n]
            if isinstance(node, NEURONS):
                val = np.zeros_like(val) if rest else neuron_step(node, states[n], val, sem)
            else:
                val = synapse(node, val, sem)
            cur[n] = val
        return cur

    # Step -1: every neuron silent, so a recurrent Affine feeds back its bias at step 0 (as
    # snntorch's RLeaky computes recurrent(spk) with spk = 0 at the first step).
    rest: dict[str, np.ndarray] = {}
    for _ in range(2):  # twice: the first pass sees back edges from a zero placeholder
        rest = step(np.zeros(x.shape[1:]), rest or _zeros_like_sources(back, nodes), rest=True)
    prev = rest
    record: dict[str, list[np.ndarray]] = {n: [] for n in nodes}
    for t in range(x.shape[0]):
        prev = step(x[t], prev, rest=False)
        for n, v in prev.items():
            record[n].append(v)
    rec = {n: np.stack(v) for n, v in record.items()}
    return rec[out], rec
