"""Lava Processes and ProcessModels of modspike's own (Lava's compiler loads every module in this
folder to find models: keep it free of anything else)."""
