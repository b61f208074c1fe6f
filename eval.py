"""Evaluate a checkpoint: `python eval.py experiment=diffusion_bumps ckpt_path=/path/to/last.ckpt`."""

from neurobolts.plugins.cli import eval_main

if __name__ == "__main__":
    eval_main()
