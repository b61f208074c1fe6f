"""Map Induction (Sharma et al., ICLR 2022; docs/papers/map_induction.md): the grid format
(grid_format.py), the worlds (worlds.py), the observation models (observation.py) and the behavioural
data (behaviour.py)."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {
    "EMPTY": ".grid_format", "REWARD": ".grid_format", "WALL": ".grid_format", "AGENT": ".grid_format",
    "UNOBSERVED": ".grid_format", "ROOM_WALL": ".grid_format", "ROOM_DOOR": ".grid_format",
    "parse_grid": ".grid_format", "read_grid": ".grid_format", "write_grid": ".grid_format",
    "format_grid": ".grid_format", "derive_rooms": ".grid_format",
    "MapInductionWorld": ".worlds", "repeated_rooms_world": ".worlds", "control_world": ".worlds",
    "cpu_worlds": ".worlds", "room_template": ".worlds",
    "OBSERVATION_MODES": ".observation", "ObservedMap": ".observation", "observe": ".observation",
    "read_behaviour_csv": ".behaviour", "HumanTrajectory": ".behaviour", "CellOffsets": ".behaviour",
    "load_offsets": ".behaviour", "Transition": ".behaviour", "room_transitions": ".behaviour",
    "check_cell_path": ".behaviour", "connect_path": ".behaviour",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
