"""The packaged FARMap reference maps and map files (docs/papers/farmap.md section 3, oracle 7.1),
the generator and the colouring (section 2.1, 5.1)."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from neurobolts.datamodules.gridworld import (
    NUM_REFERENCE_MAPS,
    GridWorld,
    colour_classes,
    corridor_map,
    generate_maps,
    load_maps_file,
    pascal_voc_palette,
    reference_map,
    reference_map_table,
    two_rooms_map,
    upscale,
    visible_area,
)

SHARED_MAPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "farmap" / "maps.npz"
SHA256 = "2a5b4a67c347dc68cb72f38fd52c7686f0414072e4a1988db9f6cf709ca32158"  # data README
PACKAGE = "neurobolts.datamodules.gridworld"


def packaged_bytes() -> bytes:
    return resources.files(PACKAGE).joinpath("data", "farmap_maps.npz").read_bytes()


@pytest.fixture(scope="module")
def raw():
    with resources.files(PACKAGE).joinpath("data", "farmap_maps.npz").open("rb") as f, np.load(f) as archive:
        return {key: archive[key] for key in archive.files}


def one_component(free: np.ndarray) -> bool:
    return ndimage.label(free, structure=ndimage.generate_binary_structure(2, 1))[1] == 1


def test_packaged_file_is_the_shared_reference_file_with_its_licence():
    data = packaged_bytes()
    assert hashlib.sha256(data).hexdigest() == SHA256
    if SHARED_MAPS.is_file():
        assert SHARED_MAPS.read_bytes() == data
    notice = resources.files(PACKAGE).joinpath("data", "LICENSE-farmap-maps.txt").read_text()
    for needle in ("MIT License", "Copyright (c) 2024 Jaedong Hwang", "Permission is hereby granted",
                   "FieteLab/FARMap", "e4f8b2106bfb3fc79603151678cd9be37d9948d3", "farmap_dataset.pkl", SHA256,
                   "62b886c366e7aabea035cbc7166fc3cb7afd2a57f47ab03f69b42f5cada1ab78"):
        assert needle in notice, needle


def test_oracle_7_1_on_the_packaged_maps(raw):
    maps, shapes = raw["maps"], raw["shapes"]
    assert NUM_REFERENCE_MAPS == len(maps) == len(shapes) == 300
    for i, (h, w) in enumerate(shapes):
        inside = maps[i, :h, :w]
        assert set(np.unique(inside).tolist()) == {0, 37}, i
        outside = np.ones(maps.shape[1:], dtype=bool)
        outside[:h, :w] = False
        assert (maps[i][outside] == 255).all(), i
        assert (inside[[0, -1]] == 37).all() and (inside[:, [0, -1]] == 37).all(), i
    table = reference_map_table()
    assert table.visible_area_scale3[[5, 100, 150, 250]].tolist() == [367, 1043, 1703, 5220]
    assert set(np.argsort(table.free_cells, kind="stable")[-5:].tolist()) == {295, 296, 297, 298, 299}
    assert table.free_cells[295:].tolist() == [1771, 1805, 1895, 2456, 2481]


def test_reference_maps_match_their_table():
    table = reference_map_table()
    assert table.shapes.shape == (300, 2) and not table.free_cells.flags.writeable
    for i in range(NUM_REFERENCE_MAPS):
        wall = reference_map(i)
        assert wall.dtype == bool and wall.shape == tuple(table.shapes[i])
        assert int((~wall).sum()) == table.free_cells[i] and int(wall.sum()) == table.wall_cells[i]
        assert visible_area(upscale(wall, 3)) == table.visible_area_scale3[i], i
        assert one_component(~wall), i  # one 4-connected free region per map
    for i, area in zip((5, 100, 150, 250), (367, 1043, 1703, 5220), strict=True):
        assert GridWorld.from_reference(i).visible_area() == area


def test_reference_map_returns_a_copy_and_refuses_unknown_ids():
    wall = reference_map(7)
    wall[:] = False
    assert reference_map(7).any()
    for bad in (-1, 300, 1.0, True, "3"):
        with pytest.raises(ValueError, match=r"map_id must be an integer in \[0, 299\], got " + repr(bad).replace(".", r"\.")):
            reference_map(bad)


def write(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_load_maps_file_round_trip(raw, tmp_path):
    path = write(tmp_path / "maps.npz", **raw)
    loaded = load_maps_file(path)
    assert len(loaded) == 300
    assert all(np.array_equal(a, reference_map(i)) for i, a in enumerate(loaded))
    only_required = load_maps_file(write(tmp_path / "small.npz", maps=raw["maps"][:3], shapes=raw["shapes"][:3]))
    assert len(only_required) == 3


def _broken(raw, change):
    arrays = {key: value.copy() for key, value in raw.items()}
    change(arrays)
    return arrays


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("shapes"), r"must hold the arrays \['maps', 'shapes'\].*missing \['shapes'\]"),
    (lambda a: a.__setitem__("maps", a["maps"].astype(np.int32)), r"maps must be a uint8 array"),
    (lambda a: a.__setitem__("shapes", a["shapes"][:-1]), r"shapes must be an integer array of shape \(300, 2\)"),
    (lambda a: a["maps"][3].__setitem__((2, 2), 5), r"maps\[3\] must hold only 0 \(free\) and 37 \(wall\).*got values \[0, 5, 37\]"),
    (lambda a: a["maps"][4].__setitem__((-1, -1), 0), r"maps\[4\] must be 255 \(padding\) outside shapes\[4\]"),
    (lambda a: a["maps"][6].__setitem__((0, 2), 0), r"maps\[6\] border must be all wall \(37\)"),
    (lambda a: a["shapes"].__setitem__((8, 0), 99), r"shapes\[8\] must be \(H, W\) with 3 <= H <= 65"),
    (lambda a: a["free_cells"].__setitem__(9, 1), r"free_cells\[9\] must be \d+ \(counted on maps\[9\]\), got 1"),
    (lambda a: a["visible_area_scale3"].__setitem__(5, 366), r"visible_area_scale3\[5\] must be 367"),
])
def test_bad_maps_files_name_file_field_and_expectation(raw, tmp_path, change, message):
    path = write(tmp_path / "bad_maps.npz", **_broken(raw, change))
    with pytest.raises(ValueError, match=message) as info:
        load_maps_file(path)
    assert "bad_maps.npz" in str(info.value)


def test_unreadable_maps_files(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    with pytest.raises(ValueError, match=r"maps file .*notes\.npz.* must be a NumPy \.npz archive"):
        load_maps_file(text)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match=r"single\.npy.* must be a NumPy \.npz archive"):
        load_maps_file(single)
    with pytest.raises(FileNotFoundError):
        load_maps_file(tmp_path / "missing.npz")


def test_generator_is_deterministic_per_seed():
    first, again, other = generate_maps(20, seed=13), generate_maps(20, seed=13), generate_maps(20, seed=14)
    assert len(first) == len(again) and all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert len(first) != len(other) or not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other, strict=False))


def test_generated_maps_have_a_wall_border_and_one_free_region():
    maps = generate_maps(60, seed=3)
    assert len(maps) > 20
    for wall in maps:
        assert wall.dtype == bool and wall.ndim == 2
        assert wall[[0, -1]].all() and wall[:, [0, -1]].all()
        assert one_component(~wall)
        assert (~wall).sum() > 3 * 3 * 3  # bigger than three of the smallest rooms
        free_rows, free_cols = np.nonzero(~wall)  # cropped: free cells touch every inner side
        assert free_rows.min() == 1 and free_rows.max() == wall.shape[0] - 2
        assert free_cols.min() == 1 and free_cols.max() == wall.shape[1] - 2
    sizes = [int((~wall).sum()) for wall in maps]
    assert max(sizes) > 10 * min(sizes)  # lattices from 3x3 to 7x7 rooms give a wide size range


def test_generator_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"num_draws must be an integer >= 1, got 0"):
        generate_maps(0)
    with pytest.raises(ValueError, match=r"p_merge must be a finite number in \[0, 1\], got 1\.5"):
        generate_maps(1, p_merge=1.5)


def test_two_rooms_and_corridor():
    wall = two_rooms_map(room=5, door=1)
    assert wall.shape == (7, 13) and (~wall).sum() == 2 * 25 + 1
    assert one_component(~wall)
    assert not wall[3, 6]  # the door: centred, in the dividing wall column
    closed = wall.copy()
    closed[3, 6] = True
    assert ndimage.label(~closed)[1] == 2
    wide = two_rooms_map(room=6, door=3, thickness=2, door_offset=0)
    assert wide.shape == (8, 16) and (~wide[1:4, 7:9]).all() and wide[4:7, 7:9].all()
    corridor = corridor_map(10, 2)
    assert corridor.shape == (4, 12) and (~corridor).sum() == 20 and corridor[[0, -1]].all()
    with pytest.raises(ValueError, match=r"door must be an integer in \[1, 5\], got 6"):
        two_rooms_map(room=5, door=6)


def test_colour_classes_give_each_wall_cell_its_own_id():
    wall = reference_map(120)
    classes = colour_classes(wall)
    n = int(wall.sum())
    assert classes.dtype == np.int32 and (classes[~wall] == 0).all()
    assert sorted(classes[wall].tolist()) == list(range(1, n + 1))
    shuffled = colour_classes(wall, np.random.default_rng(0))
    assert sorted(shuffled[wall].tolist()) == list(range(1, n + 1)) and not np.array_equal(shuffled, classes)
    assert np.array_equal(shuffled, colour_classes(wall, np.random.default_rng(0)))


def test_pascal_voc_palette_has_no_uint8_overflow():
    palette = pascal_voc_palette(4)
    assert palette.dtype == np.uint8
    assert palette.tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    big = pascal_voc_palette(5000)  # > 256 wall cells: the reference crashed under numpy >= 2 (5.1)
    assert len(np.unique(big, axis=0)) == 5000
    assert np.array_equal(big[:4], palette)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 16777216\], got 0"):
        pascal_voc_palette(0)


def test_upscale_repeats_each_cell_as_a_block():
    grid = np.arange(6).reshape(2, 3)
    big = upscale(grid, 3)
    assert big.shape == (6, 9) and (big[3:6, 6:9] == 5).all() and (big[0:3, 0:3] == 0).all()
    world = GridWorld.from_reference(97, scale=3)  # 97: the first map with >= 256 wall cells
    n_walls = int(reference_map_table().wall_cells[97])
    assert n_walls >= 256 and len(np.unique(world.classes)) == n_walls + 1


def test_pyproject_ships_the_data_files():
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"][PACKAGE]
    folder = root / setuptools["package-dir"][PACKAGE]
    shipped = {p.relative_to(folder).as_posix() for pattern in patterns for p in folder.glob(pattern)}
    assert {"data/farmap_maps.npz", "data/LICENSE-farmap-maps.txt"} <= shipped
