"""Event-camera and spike-train data: readers of N-MNIST, SHD and DVS Gesture files, binning into frames on a
fixed clock, a DVS pixel model with a generated stand-in ("dvs-digits"), and data sets built on
them. Nothing here downloads."""

from __future__ import annotations

from .binning import Binning, BinStats, bin_events, make_binning
from .datasets import EVENT_DATASETS, EventDataset, digits_split_indices, load_event_dataset
from .dvs import DVSPixels, PixelModel, StandIn, background_noise, render, standin_events
from .readers import (
    GESTURE_SENSOR,
    NMNIST_SENSOR,
    decode_aedat3,
    decode_nmnist,
    encode_aedat3,
    encode_nmnist,
    gesture_samples,
    gesture_trials,
    nmnist_files,
    read_aedat3_file,
    read_gesture_labels,
    read_nmnist_file,
    read_shd_file,
    write_nmnist_file,
    write_shd_file,
)
from .types import EVENT_DTYPE, Sensor, check_events, make_events

__all__ = [
    "EVENT_DATASETS",
    "EVENT_DTYPE",
    "GESTURE_SENSOR",
    "NMNIST_SENSOR",
    "BinStats",
    "Binning",
    "DVSPixels",
    "EventDataset",
    "PixelModel",
    "Sensor",
    "StandIn",
    "background_noise",
    "bin_events",
    "check_events",
    "decode_aedat3",
    "decode_nmnist",
    "digits_split_indices",
    "encode_aedat3",
    "encode_nmnist",
    "gesture_samples",
    "gesture_trials",
    "load_event_dataset",
    "make_binning",
    "make_events",
    "nmnist_files",
    "read_aedat3_file",
    "read_gesture_labels",
    "read_nmnist_file",
    "read_shd_file",
    "render",
    "standin_events",
    "write_nmnist_file",
    "write_shd_file",
]
