"""Figure helpers: the sample mosaic layout and where figures go without MLflow."""

import numpy as np

from neurobolts.plugins.figures import image_mosaic, log_figure


def test_mosaic_places_cells_with_gaps():
    images = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    canvas = image_mosaic(images, columns=2, gap=1)
    assert canvas.shape == (3 * 2 + 2, 2 * 3 + 1)
    np.testing.assert_array_equal(canvas[0:2, 0:3], images[0])
    np.testing.assert_array_equal(canvas[3:5, 4:7], images[3])  # row 1, column 1
    assert np.isnan(canvas[2]).all() and np.isnan(canvas[:, 3]).all()  # gaps
    assert np.isnan(canvas[6:8, 4:7]).all()  # the blank sixth cell


def test_log_figure_without_mlflow_writes_a_png(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    class FakeTrainer:
        loggers = []
        default_root_dir = str(tmp_path)

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    (path,) = log_figure(FakeTrainer(), fig, "figures/x/y.png")
    assert path == str(tmp_path / "figures" / "x" / "y.png")
    assert (tmp_path / "figures" / "x" / "y.png").read_bytes()[:4] == b"\x89PNG"


# --- where a run's figures, tables and files go (plugins/figures.py module docstring) ----------------------
class Plotting:
    """A tiny LightningModule that logs one figure, one table, one text file and one copied file at the
    end of training, the way the project's modules and callbacks do."""

    @staticmethod
    def module():
        import lightning as L
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        from neurobolts.plugins.figures import log_figure, log_file, log_table, log_text, pyplot

        class Module(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(2, 1)
                self.written: list[str] = []

            def training_step(self, batch, batch_idx):
                loss = self.layer(batch[0]).sum()
                self.log("train/loss", loss)
                return loss

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

            def train_dataloader(self):
                return DataLoader(TensorDataset(torch.ones(4, 2)), batch_size=2)

            def on_train_end(self):
                import tempfile
                from pathlib import Path

                figure = pyplot().figure()
                figure.gca().plot([0, 1], [1, 0])
                self.written += log_figure(self.trainer, figure, "figures/curve.png")
                self.written.append(log_table(self.trainer, [{"a": 1}], "figures/table.json"))
                self.written.append(log_text(self.trainer, "x,y\n1,2\n", "figures/table.csv"))
                with tempfile.TemporaryDirectory() as tmp:
                    source = Path(tmp) / "anim.gif"
                    source.write_bytes(b"GIF89a")
                    self.written.append(log_file(self.trainer, source, "figures"))

        return Module()

    @staticmethod
    def fit(logger) -> list[str]:
        import lightning as L

        module = Plotting.module()
        L.Trainer(max_steps=1, accelerator="cpu", logger=logger, log_every_n_steps=1, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False).fit(module)
        return module.written


def files_under(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


OUTPUTS = {"figures/curve.png", "figures/table.json", "figures/table.csv", "figures/anim.gif"}


def test_two_runs_in_one_directory_keep_their_figures_beside_their_csv_logs(tmp_path, monkeypatch):
    from lightning.pytorch.loggers import CSVLogger

    monkeypatch.chdir(tmp_path)  # a user's own Trainer: default_root_dir is the current directory
    first = Plotting.fit(CSVLogger(save_dir=tmp_path))
    second = Plotting.fit(CSVLogger(save_dir=tmp_path))
    for version, written in ((0, first), (1, second)):
        folder = tmp_path / "lightning_logs" / f"version_{version}"
        assert written[0] == str(folder / "figures" / "curve.png")
        assert OUTPUTS <= files_under(folder), files_under(folder)
        assert (folder / "metrics.csv").is_file()  # the logger's own file, in the same folder
        assert (folder / "figures" / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "figures").exists()  # nothing in the current directory itself


def test_a_run_without_a_logger_writes_into_a_folder_of_its_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = Plotting.fit(False), Plotting.fit(False)
    assert first[0] == str(tmp_path / "lightning_logs" / "version_0" / "figures" / "curve.png")
    assert second[0] == str(tmp_path / "lightning_logs" / "version_1" / "figures" / "curve.png")
    for version in (0, 1):
        assert files_under(tmp_path / "lightning_logs" / f"version_{version}") == OUTPUTS
    assert not (tmp_path / "figures").exists()


def test_with_mlflow_the_outputs_are_artifacts_and_nothing_else_is_written(tmp_path, monkeypatch):
    from lightning.pytorch.loggers import CSVLogger
    from mlflow.tracking import MlflowClient

    from neurobolts.plugins.mlflow_tracking import mlflow_logger

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow = mlflow_logger("figures", uri, artifact_dir=str(tmp_path / "artifacts"))
    csv = CSVLogger(save_dir=tmp_path / "csv")  # a file logger beside it: MLflow still takes the outputs
    written = Plotting.fit([csv, mlflow])
    run_id = mlflow.run_id
    assert written == [f"mlflow:{run_id}/figures/curve.png", f"mlflow:{run_id}/figures/table.json",
                       f"mlflow:{run_id}/figures/table.csv", f"mlflow:{run_id}/figures/anim.gif"]
    artifacts = {a.path for a in MlflowClient(uri).list_artifacts(run_id, "figures")}
    assert artifacts == OUTPUTS
    assert files_under(work) == set()
    assert not any(name.startswith("figures") for name in files_under(tmp_path / "csv"))
