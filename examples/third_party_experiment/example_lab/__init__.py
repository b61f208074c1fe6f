"""Example third-party package for neurobolts: one experiment (`example_sine`), its LightningModule
and its DataModule, found by `neurobolts-train` through the `neurobolts.configs` entry point."""
