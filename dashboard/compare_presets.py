"""Compare presets: the classic A-vs-B pairs, kept as data in assets/compare_presets.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine import Config

from .compare_state import COMPARE_VIEWS, SHARED

PRESETS_FILE = Path(__file__).resolve().parents[1] / "assets" / "compare_presets.json"


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


def load_compare_presets(path: Path = PRESETS_FILE) -> list[ComparePreset]:
    """All compare presets, in file order; a malformed entry raises ValueError naming it."""
    out = []
    for i, item in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        try:
            caption = tuple(item["caption"])
            if len(caption) != 2:
                raise ValueError(f"expected a two-line caption, got {len(caption)} lines")
            shared = sorted(set(item["b"]) & set(SHARED))
            if shared:
                raise ValueError(f"b changes the shared input knobs {shared}; B reads A's data")
            if item["view"] not in COMPARE_VIEWS:
                raise ValueError(f"view {item['view']!r} is not one of {list(COMPARE_VIEWS)}")
            p = ComparePreset(item["id"], item["title"], caption, dict(item["a"]),
                              dict(item["b"]), item["view"])
            if p.a == p.b:
                raise ValueError("B equals A: a comparison needs one difference")
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path.name}: preset #{i} ({item.get('id', '?')!r}) is invalid: {e}") from e
        out.append(p)
    return out
