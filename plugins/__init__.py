"""The runtime: train/eval pipeline, instantiation, MLflow helpers, experiment discovery."""
