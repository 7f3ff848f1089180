"""Online learning after deployment (``modspike learn``): closed loops of plastic networks on
the simulator and on Lava, and the tasks they learn (``docs/plasticity.md``)."""
