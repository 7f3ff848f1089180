"""NIR export and import of the network description (``docs/nir-extensions.md``)."""
