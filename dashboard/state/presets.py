"""Lecture presets: named configurations kept as data in assets/presets.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine import Config

PRESETS_FILE = Path(__file__).resolve().parents[2] / "assets" / "presets.json"


@dataclass(frozen=True)
class Preset:
    """One click in the sidebar: a config (overrides of the defaults), a view and its story."""

    id: str
    title: str
    caption: tuple[str, str]  # two lines: what is set, what to look for
    overrides: dict
    view: str

    @property
    def config(self) -> Config:
        """The full configuration: defaults plus this preset's overrides."""
        return Config.from_dict(self.overrides)


def load_items(path: Path, build) -> list:
    """Every entry of a presets file through build(item, caption), in file order; a malformed
    entry (a missing key, a caption that is not two lines, whatever build rejects) raises a
    ValueError naming the file and the entry."""
    out = []
    for i, item in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        try:
            caption = tuple(item["caption"])
            if len(caption) != 2:
                raise ValueError(f"expected a two-line caption, got {len(caption)} lines")
            out.append(build(item, caption))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path.name}: preset #{i} ({item.get('id', '?')!r}) is invalid: {e}") from e
    return out


def _preset(item: dict, caption: tuple[str, str]) -> Preset:
    p = Preset(item["id"], item["title"], caption, dict(item["config"]), item["view"])
    p.config  # noqa: B018 - validate now, not on the click
    return p


def load_presets(path: Path = PRESETS_FILE) -> list[Preset]:
    """All presets, in file order; a malformed entry raises ValueError naming it."""
    return load_items(path, _preset)
