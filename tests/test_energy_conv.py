"""The energy tiers price convolutional networks: each input event reaches the fan-out of its
layer's whole composite synapse (pooling stages folded in), computed from the synapse itself."""

from __future__ import annotations

import numpy as np
from conv_nets import conv_model, digit_spikes

from modspike.quantize import quantize
from modspike.runtime.energy_counts import SYNAPTIC_EVENTS, spiking_layer_events
from modspike.runtime.energy_network import fan_out, layer_facts, spiking_counts
from modspike.step import Precision, compile, run
from modspike.train.modules import to_network


def _net(arch: str, cell: str = "lif"):
    return quantize(to_network(conv_model(cell, arch)))


def test_conv_fan_out_counts_the_kernel_taps_inside_the_image():
    """A 3x3 kernel, padding 1, on 8x8, 4 output channels: corners reach 4 positions, edges 6,
    the interior 9, each on every output channel."""
    layer = _net("c4k3-d16").layers[0]
    taps = np.full((8, 8), 9)
    taps[0, :] -= 3
    taps[-1, :] -= 3
    taps[:, 0] -= 3
    taps[:, -1] -= 3
    taps[0, 0] = taps[0, -1] = taps[-1, 0] = taps[-1, -1] = 4
    np.testing.assert_array_equal(fan_out(layer), 4 * taps.reshape(-1))


def test_pooling_is_folded_into_the_next_synapse():
    """``c4k3-p2-d16``: the dense layer after 2x2 sum pooling reaches all 16 neurons from every
    one of its 4x8x8 inputs (each input lies in exactly one pooling window)."""
    net = _net("c4k3-p2-d16")
    dense_after_pool = net.layers[1]
    assert dense_after_pool.synapse.pre
    np.testing.assert_array_equal(fan_out(dense_after_pool), np.full(4 * 8 * 8, 16.0))


def test_fan_out_path_equals_the_dense_path_on_a_dense_layer():
    rng = np.random.default_rng(0)
    w = rng.integers(-3, 4, (7, 12))
    x = (rng.random((5, 3, 12)) < 0.4).astype(np.int64)
    y = (rng.random((5, 3, 7)) < 0.3).astype(np.int64)
    dense = spiking_layer_events(x, y, w)
    via_fan = spiking_layer_events(x, y, None, fan_out=np.full(12, 7.0))
    for key in dense:
        np.testing.assert_array_equal(dense[key], via_fan[key], err_msg=key)


def test_a_conv_network_gets_counts_and_facts_for_every_layer():
    net = _net("c4k3-p2-c8k3-p2-d32")
    spikes = digit_spikes(n=6, steps=8)
    out = run(compile(net, Precision.FIXED), spikes)
    counts = spiking_counts(net, spikes, [np.asarray(r) for r in out.records])
    facts = layer_facts(net)
    assert len(counts) == len(facts) == len(net.layers)
    for layer, c, f in zip(net.layers, counts, facts):
        assert f.n == layer.n and f.n_in == int(np.prod(layer.in_shape))
        assert np.all(c[SYNAPTIC_EVENTS] >= 0)
    first = counts[0]
    x = spikes.reshape(spikes.shape[0], spikes.shape[1], -1)
    want = ((x != 0).astype(float) @ fan_out(net.layers[0])).sum(0)
    np.testing.assert_array_equal(first[SYNAPTIC_EVENTS], want)
