"""Event-camera and spike-train data: readers of N-MNIST and SHD files, binning into frames on a
fixed clock, a DVS pixel model with a generated stand-in ("dvs-digits"), and data sets built on
them. Nothing here downloads."""

from __future__ import annotations

from .binning import Binning, BinStats, bin_events, make_binning
from .datasets import EVENT_DATASETS, EventDataset, digits_split_indices, load_event_dataset
from .dvs import DVSPixels, PixelModel, StandIn, background_noise, render, standin_events
from .readers import (
    NMNIST_SENSOR,
    decode_nmnist,
    encode_nmnist,
    nmnist_files,
    read_nmnist_file,
    read_shd_file,
    write_nmnist_file,
    write_shd_file,
)
from .types import EVENT_DTYPE, Sensor, check_events, make_events

__all__ = [
    "EVENT_DATASETS",
    "EVENT_DTYPE",
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
    "decode_nmnist",
    "digits_split_indices",
    "encode_nmnist",
    "load_event_dataset",
    "make_binning",
    "make_events",
    "nmnist_files",
    "read_nmnist_file",
    "read_shd_file",
    "render",
    "standin_events",
    "write_nmnist_file",
    "write_shd_file",
]
