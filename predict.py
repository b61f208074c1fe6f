"""Apply a trained checkpoint to new inputs:
`python predict.py experiment=diffusion_bumps ckpt_path=/path/to/last.ckpt predict.inputs=conditions.csv`."""

from neurobolts.plugins.cli import predict_main

if __name__ == "__main__":
    predict_main()
