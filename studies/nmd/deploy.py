"""Export a neuromodulated RL agent (``train.nmd.NMDAgent`` with an mSRC body) as one artifact.

Split (``docs/neuromodulation.md``): the **spiking main network** (the mSRC stack) is the part a
chip runs; it goes to ``model.nir`` exactly like a supervised network, quantised with a *graded*
input (the observation in the SRC state format, ``2**-frac_bits`` units). The **modulation network
runs on the host**: the context GRU, the projection ``z -> (gain, bias, h_s0)`` per neuron and the
policy readout are small dense float layers that change every environment step, so they travel as
``host_agent.pt`` (a torch ``state_dict`` with the agent's constructor arguments). Each environment
step the host sends the quantised modulation to the layers' modulation port
(``hw.src_process.SRCLayer.mod_in``) and the observation to the input.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import torch

from modspike.artifact import MODEL_FILE, load_manifest, write_artifact
from modspike.errors import ArtifactError, ConfigError
from modspike.export.artifact_build import open_artifact, tool_versions
from modspike.export.nir.file import write_nir_file
from modspike.export.nir.write import to_nir
from modspike.fixedpoint import FORMAT_VERSION, SRCFormat, WeightFormat
from modspike.network import Encoding, network_equal
from modspike.quantize import quantize
from modspike.studies.nmd.agent import NMDAgent, build_agent
from modspike.train.modules import network_of

HOST_FILE = "host_agent.pt"
AGENT_SCHEMA = "modspike-nmd-agent/1"


def export_agent(agent: NMDAgent, agent_kwargs: dict, out: str | Path, bits: int = 8) -> dict:
    """Write ``agent`` (built by ``build_agent(agent.kind, **agent_kwargs)``) to ``out``."""
    if not isinstance(agent, NMDAgent) or not agent.spiking:
        raise ConfigError("only agents with an mSRC main network (nmd-msrc, msrc) can be deployed")
    fmt, sfmt = WeightFormat(bits), SRCFormat()
    in_exp = -sfmt.frac_bits
    body = network_of(agent.body.layers, (agent.obs_dim,), encoding=Encoding("graded"))
    qnet = quantize(body, fmt, sfmt, in_exp)
    deploy = {
        "schema": AGENT_SCHEMA,
        "kind": agent.kind,
        "obs_dim": agent.obs_dim,
        "n_actions": agent.n_actions,
        "micro_steps": agent.body.micro_steps,
        "readout_scale": float(agent.readout_scale),
        "input_exponent": in_exp,
        "modulation": "host" if agent.modulated else None,
    }
    graph = to_nir(qnet, info={"agent": deploy})

    def write_model(path: Path) -> None:
        write_nir_file(path, graph)

    def write_host(path: Path) -> None:
        state = {k: v.detach().cpu() for k, v in agent.state_dict().items()}
        torch.save({"kind": agent.kind, "kwargs": dict(agent_kwargs), "state_dict": state}, path)

    manifest = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "created_by": tool_versions(),
        "source": {"kind": "agent", "agent": agent.kind},
        "cell": "msrc",
        "layers": qnet.kinds,
        "steps": agent.body.micro_steps,
        "agent": deploy,
        "quantization": {
            "format": FORMAT_VERSION,
            "weight_bits": fmt.bits,
            "granularity": fmt.granularity,
            "src_frac_bits": sfmt.frac_bits,
            "qat": False,
        },
    }
    write_artifact(out, {MODEL_FILE: write_model, HOST_FILE: write_host}, manifest)
    _, back = open_artifact(out)  # the file round-trips to the very integer network
    for a, b in zip(back.layers, qnet.layers):
        same = network_equal(a.synapse.fixed, b.synapse.fixed) and network_equal(
            a.cell.fixed, b.cell.fixed
        )
        if not same:
            raise ArtifactError(f"{out}: the written network does not read back identically")
    return {"artifact": str(out), "agent": agent.kind, "layers": len(qnet.layers), "bits": bits}


def load_agent_artifact(artifact_dir: str | Path):
    """``(deploy info, host agent, Network)`` of an agent artifact; clear errors otherwise."""
    artifact = load_manifest(artifact_dir)
    deploy = artifact.manifest.get("agent")
    if not isinstance(deploy, dict) or deploy.get("schema") != AGENT_SCHEMA:
        raise ArtifactError(f"{artifact_dir}: not an agent artifact (export it with export_agent)")
    try:
        saved = torch.load(artifact.file(HOST_FILE), map_location="cpu", weights_only=True)
        agent = build_agent(saved["kind"], **saved["kwargs"])
        agent.load_state_dict(saved["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ArtifactError(f"{artifact_dir}: unreadable {HOST_FILE} ({exc})") from None
    _, net = open_artifact(artifact_dir)
    return deploy, agent.eval(), net
