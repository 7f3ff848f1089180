"""Export a neuromodulated RL agent (``train.nmd.NMDAgent`` with an mSRC body) as one artifact.

Split (``docs/neuromodulation.md``): the **spiking main network** (the mSRC stack) is the part a
chip runs; it goes to ``model.nir`` exactly like a supervised network, quantised with a *graded*
input (the observation in the SRC state format, ``2**-frac_bits`` units). The **modulation network
runs on the host**: the context GRU, the projection ``z -> (gain, bias, h_s0)`` per neuron and the
policy readout are small dense float layers that change every environment step, so they travel as
``host_agent.safetensors`` (the agent's ``state_dict``, no pickle) with ``host_agent.json`` (its
kind and constructor arguments). Each environment step the host sends the quantised modulation to
the layers' modulation port (``hw.src_process.SRCLayer.mod_in``) and the observation to the input.

The shared code serves every family of agents (:mod:`.host`: how a family builds its host module,
what it records, whether a module can be deployed); ``family`` (default :data:`~.host.NMD_TASK`,
the project task) is recorded in the deploy record and in ``host_agent.json``, and a loader refuses
another family's artifact. Artifacts without a family are the project task's.

Artifacts of schema ``modspike-nmd-agent/1`` stored the host networks with ``torch.save``
(``host_agent.pt``, a pickle); they are refused with a message that says to re-export them.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path

from torch import nn

from modspike.artifact import MODEL_FILE, load_manifest, write_artifact
from modspike.errors import ArtifactError, ConfigError, ModspikeError
from modspike.export.artifact_build import open_artifact, tool_versions
from modspike.export.nir.file import write_nir_file
from modspike.export.nir.write import to_nir
from modspike.fixedpoint import FORMAT_VERSION, SRCFormat, WeightFormat
from modspike.network import Encoding, Network, network_equal
from modspike.quantize import quantize
from modspike.studies.nmd.host import NMD_TASK, AgentFamily
from modspike.train.modules import network_of
from modspike.validate import load_json_text

HOST_WEIGHTS = "host_agent.safetensors"
HOST_CONFIG = "host_agent.json"
LEGACY_HOST_FILE = "host_agent.pt"  # schema 1: a torch pickle, refused
AGENT_SCHEMA = "modspike-nmd-agent/2"
HOST_SCHEMA = "modspike-nmd-host/1"
MAX_KWARG = 1 << 16  # a constructor argument beyond this would allocate absurd networks


def export_agent(
    agent: nn.Module,
    agent_kwargs: dict,
    out: str | Path,
    bits: int = 8,
    family: AgentFamily = NMD_TASK,
) -> dict:
    """Write ``agent`` (built by ``family.build(kind, **agent_kwargs)``) to ``out``.

    ``family`` (:mod:`.host`) says which agents it builds and whether this one can be deployed;
    the default is the project task's :class:`NMDAgent`.
    """
    info = family.describe(agent)  # ConfigError when not deployable, before anything is written
    body = agent.body
    fmt, sfmt = WeightFormat(bits), SRCFormat()
    in_exp = -sfmt.frac_bits
    net = network_of(body.layers, (body.n_in,), encoding=Encoding("graded"))
    qnet = quantize(net, fmt, sfmt, in_exp)
    deploy = {
        "schema": AGENT_SCHEMA,
        "family": family.name,
        **info,
        "micro_steps": body.micro_steps,
        "input_exponent": in_exp,
    }
    kind = deploy["kind"]
    graph = to_nir(qnet, info={"agent": deploy})

    _check_kwargs(agent_kwargs, ConfigError, "agent_kwargs")
    host = {
        "schema": HOST_SCHEMA,
        "family": family.name,
        "kind": kind,
        "kwargs": dict(agent_kwargs),
    }
    try:
        host_config = json.dumps(host, indent=1, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"agent_kwargs must be plain JSON values ({exc})") from None

    def write_model(path: Path) -> None:
        write_nir_file(path, graph)

    def write_host_weights(path: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in agent.state_dict().items()}
        save_file(state, str(path))

    def write_host_config(path: Path) -> None:
        path.write_text(host_config + "\n")

    manifest = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "created_by": tool_versions(),
        "source": {"kind": "agent", "agent": kind},
        "cell": qnet.kinds[0],
        "layers": qnet.kinds,
        "steps": body.micro_steps,
        "agent": deploy,
        "quantization": {
            "format": FORMAT_VERSION,
            "weight_bits": fmt.bits,
            "granularity": fmt.granularity,
            "src_frac_bits": sfmt.frac_bits,
            "qat": False,
        },
    }
    writers = {
        MODEL_FILE: write_model,
        HOST_WEIGHTS: write_host_weights,
        HOST_CONFIG: write_host_config,
    }
    write_artifact(out, writers, manifest)
    _, back = open_artifact(out)  # the file round-trips to the very integer network
    for a, b in zip(back.layers, qnet.layers):
        same = network_equal(a.synapse.fixed, b.synapse.fixed) and network_equal(
            a.cell.fixed, b.cell.fixed
        )
        if not same:
            raise ArtifactError(f"{out}: the written network does not read back identically")
    return {"artifact": str(out), "agent": kind, "layers": len(qnet.layers), "bits": bits}


def _check_kwargs(value, error, where: str, depth: int = 0) -> None:
    """Constructor arguments: JSON scalars and lists of them, finite, of bounded size."""
    if depth > 4:
        raise error(f"{where}: nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise error(f"{where}: argument names must be strings")
            _check_kwargs(item, error, f"{where}.{key}", depth + 1)
    elif isinstance(value, (list, tuple)):
        if len(value) > 64:
            raise error(f"{where}: more than 64 values")
        for item in value:
            _check_kwargs(item, error, where, depth + 1)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, (int, float)):
        if not math.isfinite(value) or abs(value) > MAX_KWARG:
            raise error(f"{where}: {value!r} is not a finite number of magnitude <= {MAX_KWARG}")
    else:
        raise error(f"{where}: {type(value).__name__} is not a JSON value")


def _load_host(artifact, family: AgentFamily) -> nn.Module:
    """The host networks from ``host_agent.json`` + ``host_agent.safetensors`` (no pickle)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    where = artifact.path
    config = load_json_text(
        artifact.file(HOST_CONFIG).read_bytes(), f"{where}/{HOST_CONFIG}", ArtifactError
    )
    if not isinstance(config, dict) or config.get("schema") != HOST_SCHEMA:
        raise ArtifactError(f"{where}/{HOST_CONFIG}: not a {HOST_SCHEMA!r} host description")
    kind, kwargs = config.get("kind"), config.get("kwargs")
    if not isinstance(kind, str) or not isinstance(kwargs, dict):
        raise ArtifactError(f"{where}/{HOST_CONFIG}: needs a 'kind' string and 'kwargs' object")
    _check_family(config.get("family", NMD_TASK.name), family, f"{where}/{HOST_CONFIG}")
    _check_kwargs(kwargs, ArtifactError, f"{where}/{HOST_CONFIG}: kwargs")
    try:
        state = load_file(str(artifact.file(HOST_WEIGHTS)))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{where}/{HOST_WEIGHTS}: unreadable ({str(exc)[:120]})") from None
    try:
        agent = family.build(kind, **kwargs)
    except (TypeError, ValueError, KeyError, ModspikeError) as exc:
        raise ArtifactError(f"{where}/{HOST_CONFIG}: cannot build the agent ({exc})") from None
    expected = agent.state_dict()
    if set(expected) != set(state) or any(
        tuple(state[k].shape) != tuple(t.shape) for k, t in expected.items()
    ):
        bad = sorted(set(expected) ^ set(state)) or [
            k for k, t in expected.items() if tuple(state[k].shape) != tuple(t.shape)
        ]
        raise ArtifactError(
            f"{where}/{HOST_WEIGHTS}: does not match the agent in {HOST_CONFIG} (first: {bad[0]})"
        )
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise ArtifactError(f"{where}/{HOST_WEIGHTS}: {key} contains NaN or Inf values")
    agent.load_state_dict(state)
    return agent


def _check_family(name, family: AgentFamily, where: str) -> None:
    if name != family.name:
        raise ArtifactError(
            f"{where}: an agent of family {str(name)[:40]!r}, not {family.name!r};"
            " load it with that family's loader"
        )


def load_agent_artifact(
    artifact_dir: str | Path, family: AgentFamily = NMD_TASK
) -> tuple[dict, nn.Module, Network]:
    """``(deploy info, host agent, Network)`` of an agent artifact of ``family`` (default: the
    project task's agents); clear errors otherwise."""
    artifact = load_manifest(artifact_dir)
    deploy = artifact.manifest.get("agent")
    files = artifact.manifest.get("files", {})
    schema = deploy.get("schema") if isinstance(deploy, dict) else None
    if LEGACY_HOST_FILE in files or schema == "modspike-nmd-agent/1":
        raise ArtifactError(
            f"{artifact_dir}: an agent artifact of schema 'modspike-nmd-agent/1' keeps its host"
            f" networks in {LEGACY_HOST_FILE} (a torch pickle), which modspike does not load;"
            f" re-export the agent with export_agent (schema {AGENT_SCHEMA!r}: safetensors + JSON)"
        )
    if not isinstance(deploy, dict) or schema != AGENT_SCHEMA:
        raise ArtifactError(f"{artifact_dir}: not an agent artifact (export it with export_agent)")
    _check_family(deploy.get("family", NMD_TASK.name), family, str(artifact_dir))
    agent = _load_host(artifact, family)
    try:
        family.describe(agent)  # what export refuses, loading refuses too
    except ConfigError as exc:
        raise ArtifactError(f"{artifact_dir}: {exc}") from None
    _, net = open_artifact(artifact_dir)
    return deploy, agent.eval(), net
