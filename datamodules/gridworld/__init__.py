"""The grid world shared by FARMap, FARCuriosity and Map Induction (docs/papers/farmap.md sections
2.1, 3, 4, 7): the packaged reference maps, a procedural map generator, wall colouring, headings and
moves, egocentric views with occlusion and a cone field of view, fast shortest paths, and room
lattices with heterogeneous floors (rooms.py; docs/papers/far_curiosity.md section 6A). NumPy and
SciPy only: importing it loads neither torch nor Lightning."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {
    "NUM_REFERENCE_MAPS": ".maps", "MapTable": ".maps", "load_maps_file": ".maps", "reference_map": ".maps",
    "reference_map_table": ".maps", "visible_area": ".maps",
    "corridor_map": ".generator", "generate_maps": ".generator", "two_rooms_map": ".generator",
    "classes_to_rgb": ".colouring", "colour_classes": ".colouring", "pascal_voc_palette": ".colouring",
    "upscale": ".colouring",
    "DELTAS": ".headings", "DOWN": ".headings", "LEFT": ".headings", "RIGHT": ".headings", "UP": ".headings",
    "move": ".headings", "reverse": ".headings", "turn_back": ".headings",
    "GridWorld": ".world", "UNKNOWN": ".world",
    "bfs_distances": ".shortest_path", "distances_to": ".shortest_path",
    "multi_source_distances": ".shortest_path", "plan_path": ".shortest_path",
    "RoomTexture": ".rooms", "RoomsLayout": ".rooms", "floor_image": ".rooms", "room_textures": ".rooms",
    "rooms_layout": ".rooms",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
