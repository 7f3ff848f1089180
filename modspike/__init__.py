"""modspike: neuromodulable spiking networks from PyTorch to Loihi-style hardware."""

__version__ = "0.1.0"
