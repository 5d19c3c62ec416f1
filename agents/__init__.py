"""Faust agents, one module per stage: decode, call the model code, keep state, send on."""
