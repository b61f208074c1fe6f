"""Cross-cutting analyses: a pure functional core plus thin Callbacks that attach to any run."""
