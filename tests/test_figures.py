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
