"""``modspike train``: train a network."""

from __future__ import annotations

import argparse
import json

from modspike import validate as v

from .options import COUNT, SEED, add_out

NAME = "train"
HELP = "train a spiking (or ANN baseline) network on a data set"


def add(sub: argparse._SubParsersAction) -> None:
    from modspike import data, registry
    from modspike.encoding import ENCODINGS
    from modspike.train.modules import model_names

    p = sub.add_parser(
        NAME,
        help=HELP,
        description="Train a network and write RUN_DIR/{config.json, model.safetensors, metrics.json}."
        " Data-parallel over N processes: torchrun --standalone --nproc_per_node N -m modspike"
        " train ... (gloo on the CPU, nccl with --device cuda; --batch-size is the global batch)."
        " Dense networks by default (--hidden, --layers); convolutional SNNs with --arch, e.g."
        " `modspike train --cell lif --arch c8k3-p2-c16k3-p2-d64 --out runs/conv` on 1x8x8 digits.",
    )
    p.add_argument(
        "--cell",
        default="src",
        choices=model_names(),
        help="cell type of the hidden layers; 'ann' is the non-spiking ReLU baseline (default: src)",
    )
    p.add_argument(
        "--data",
        default="digits",
        choices=data.names(),
        help="data set (default: digits); event data: "
        + ", ".join(data.names(data.EVENTS))
        + " (docs/data.md)",
    )
    p.add_argument(
        "--data-dir",
        help="folder with the data set's files (mnist / fashion-mnist IDX files, N-MNIST's"
        " Train/ and Test/, SHD's .h5 files, ...); digits and dvs-digits need none",
    )
    p.add_argument(
        "--encoding",
        choices=ENCODINGS,
        help="input code: rate (default) or latency for images; events for event data (default)",
    )
    p.add_argument(
        "--steps",
        "-T",
        type=v.int_option(1, v.MAX_STEPS),
        help="coded time steps per sample (default: 25); event data: the number of time bins",
    )
    p.add_argument(
        "--bins",
        type=v.int_option(1, v.MAX_STEPS),
        help="event data: time bins over the data set's window, one per step (default: the data"
        " set's, e.g. 25 for dvs-digits, 30 for nmnist)",
    )
    p.add_argument(
        "--bin-us",
        type=v.int_option(1, 3_600_000_000),
        metavar="US",
        help="event data: bins of US microseconds instead of --bins",
    )
    p.add_argument(
        "--downsample",
        type=v.int_option(1, 64),
        default=1,
        metavar="K",
        help="event data: sum K x K pixel blocks (SHD: K channels) (default: 1)",
    )
    p.add_argument(
        "--gain",
        type=v.float_option(0.0, v.MAX_GAIN, lo_open=True),
        default=0.8,
        help="rate code: spike probability = gain * intensity (default: 0.8)",
    )
    p.add_argument(
        "--prefix",
        type=v.int_option(0, v.MAX_STEPS),
        default=0,
        help="silent steps before the code (default: 0)",
    )
    p.add_argument(
        "--hidden",
        type=v.int_option(1, v.MAX_HIDDEN),
        default=64,
        help="neurons per hidden layer (default: 64)",
    )
    p.add_argument(
        "--layers",
        type=v.int_option(1, v.MAX_LAYERS),
        default=1,
        help="number of hidden layers (default: 1)",
    )
    p.add_argument(
        "--arch",
        metavar="LAYERS",
        help="a convolutional network instead of --hidden/--layers, on the data as 1xHxW images:"
        " items joined by '-', read from the input: c<C>k<K>[s<S>][p<P>][d<D>][g<G>] = conv2d to"
        " C channels, KxK kernel, stride S (1), padding P (K//2), dilation D (1), groups G (1),"
        " then a layer of --cell; p<K>[s<S>] = KxK sum pooling (stride K), a<K>[s<S>] = average"
        " pooling (no cell after pooling); d<N> = dense layer of N --cell neurons (flattens)."
        " The readout follows the last item. Example: c8k3-p2-c16k3-p2-d64",
    )
    p.add_argument(
        "--recurrent", action="store_true", help="add recurrent synapses to each hidden layer"
    )
    p.add_argument(
        "--keep-state-grad",
        action="store_true",
        help="SRC family: keep gradients through h and h_s (default detaches them: +4 points)",
    )
    p.add_argument(
        "--hs0",
        default="1.0",
        help="mSRC/BSRC: initial h_s0, a value or LO:HI (uniform per neuron)",
    )
    p.add_argument(
        "--fix-hs0", action="store_true", help="mSRC/BSRC: keep h_s0 fixed instead of learning it"
    )
    p.add_argument(
        "--heterogeneous",
        metavar="SPEC",
        help="per-neuron cell parameters: PARAM=DIST[;...][;learn[=P,...]] with DIST uniform:LO:HI,"
        " normal:MEAN:SD, lognormal:MEDIAN:SIGMA, gamma:MEAN:K or types:1=F,2=F,2*=F (mSRC h_s0);"
        " PARAM tau / beta / threshold (LIF), + tau_syn / alpha (CubaLIF), hs0 / b (mSRC, BSRC);"
        " learn trains them per neuron (docs/plasticity.md)",
    )
    p.add_argument(
        "--epochs",
        type=v.int_option(1, v.MAX_EPOCHS),
        default=None,
        help="training epochs (default: 30; 200 for ann, the best of benchmarks/ann_defaults.py)",
    )
    p.add_argument(
        "--batch-size",
        type=v.int_option(1, v.MAX_BATCH),
        default=64,
        help="batch size (default: 64)",
    )
    p.add_argument(
        "--lr",
        type=v.float_option(0.0, v.MAX_LR, lo_open=True),
        help="Adam learning rate (default: 5e-3; 1e-3 for ann)",
    )
    p.add_argument(
        "--seed", type=SEED, default=0, help="seed of the weights, batches and input spikes"
    )
    p.add_argument("--split-seed", type=SEED, default=0, help="seed of the train/val/test split")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")
    p.add_argument("--limit", type=COUNT, help="train on the first N training samples only")
    p.add_argument(
        "--qat",
        action="store_true",
        help="quantisation-aware training: the forward pass is the exported 8-bit integer network",
    )
    p.add_argument(
        "--warmup-steps",
        type=v.int_option(0, v.MAX_WARMUP_STEPS),
        default=0,
        metavar="N",
        help="VAA* warm-up steps before training, for the cells with an attractor state"
        f" ({', '.join(registry.cell_names('attractor'))}; default: 0, off)",
    )
    p.add_argument(
        "--latency-threshold",
        type=v.float_option(0.0, 1.0),
        default=0.01,
        metavar="X",
        help="latency code: intensities at or below X never spike (default: 0.01); a higher"
        " threshold means fewer input events",
    )
    p.add_argument(
        "--reg-synops",
        type=v.float_option(0.0, 1e6),
        default=0.0,
        metavar="LAMBDA",
        help="energy-aware training: add LAMBDA x (fraction of the synaptic operations the hidden"
        " layers' events cause) to the loss; 0 (default) leaves training unchanged",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_out(p, "RUN_DIR", "run directory to write", protects=lambda a: (a.data_dir,))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modspike.train.distributed import is_main
    from modspike.train.trainer import TrainConfig, train

    fields = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    prepare = None
    if cfg.warmup_steps > 0:
        from modspike.studies.warmup import warmup_hook as prepare
    _, metrics = train(cfg, out=args.out, progress=not args.quiet, prepare=prepare)
    if not is_main():  # data-parallel (torchrun): rank 0 reports
        return 0
    summary = {k: metrics[k] for k in ("test_accuracy", "val_accuracy", "epochs", "seconds")}
    if "never_active_neurons" in metrics:
        summary["never_active_neurons"] = metrics["never_active_neurons"]
    print(json.dumps({"run_dir": args.out, **summary}))
    return 0
