"""Shared machinery of the convolution-like synapse kinds (``conv2d``, ``conv1d``, ``sumpool2d``,
``avgpool2d``): geometry checks, the float (torch) and exact integer (numpy) convolutions, the
NeuroBench operation counts and the NIR shape inference. Each kind's own folder is a thin record
over these."""
