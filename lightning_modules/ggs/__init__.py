"""GGS (Kirjner et al., ICLR 2024; docs/papers/ggs.md): the BaseCNN fitness model and its
LightningModule (cnn.py), graph-based smoothing (smoothing.py), the Gibbs-with-gradients sampler with
clustering rounds (gwg.py), the selection and metrics of spec 2.6 (evaluation.py) and the staged
pipeline behind `experiment=ggs_*` (pipeline.py)."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {
    "GWGSampler": ".gwg", "StepResult": ".gwg", "local_differences": ".gwg", "propose": ".gwg",
    "acceptance": ".gwg",
    "SamplingResult": ".rounds", "reduce_by_clustering": ".rounds", "run_gwg_rounds": ".rounds",
    "select_top": ".evaluation", "normalised_fitness": ".evaluation", "diversity": ".evaluation",
    "novelty": ".evaluation", "summarise": ".evaluation",
    "BaseCNN": ".cnn", "FitnessRegressor": ".cnn", "predict_fitness": ".cnn",
    "augment_nodes": ".augmentation", "default_k": ".graph", "knn_graph": ".graph", "adjacency": ".graph",
    "laplacian": ".graph", "smooth_labels": ".smoothing", "dirichlet_energy": ".smoothing",
    "SmoothingResult": ".smoothing", "graph_smooth": ".smoothing",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
