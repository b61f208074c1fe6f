"""The Hydra config tree of example_lab (experiment/, model/, data/), declared to neurobolts in
pyproject.toml under [project.entry-points."neurobolts.configs"]."""
