"""Compare presets: the classic A-vs-B pairs, kept as data in assets/compare_presets.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dashboard.state.compare import COMPARE_VIEWS, SHARED
from dashboard.state.presets import load_items
from engine import Config

PRESETS_FILE = Path(__file__).resolve().parents[2] / "assets" / "compare_presets.json"


@dataclass(frozen=True)
class ComparePreset:
    """One click: A (overrides of the defaults), B (what B changes relative to A), a tab, a story."""

    id: str
    title: str
    caption: tuple[str, str]  # two lines: what differs, what to look for
    a_overrides: dict
    b_changes: dict
    view: str

    @property
    def a(self) -> Config:
        """Configuration A: defaults plus the preset's overrides."""
        return Config.from_dict(self.a_overrides)

    @property
    def b(self) -> Config:
        """Configuration B: A with the preset's changes (never the shared input knobs)."""
        return self.a.replace(**self.b_changes)


def _pair(item: dict, caption: tuple[str, str]) -> ComparePreset:
    shared = sorted(set(item["b"]) & set(SHARED))
    if shared:
        raise ValueError(f"b changes the shared input knobs {shared}; B reads A's data")
    if item["view"] not in COMPARE_VIEWS:
        raise ValueError(f"view {item['view']!r} is not one of {list(COMPARE_VIEWS)}")
    p = ComparePreset(item["id"], item["title"], caption, dict(item["a"]), dict(item["b"]),
                      item["view"])
    if p.a == p.b:
        raise ValueError("B equals A: a comparison needs one difference")
    return p


def load_compare_presets(path: Path = PRESETS_FILE) -> list[ComparePreset]:
    """All compare presets, in file order; a malformed entry raises ValueError naming it."""
    return load_items(path, _pair)
