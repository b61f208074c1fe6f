"""Train a neurobolts experiment: `python train.py experiment=diffusion_bumps [overrides...]`."""

from neurobolts.plugins.cli import train_main

if __name__ == "__main__":
    train_main()
