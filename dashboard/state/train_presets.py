"""The Train lab's remedy presets, kept as data in assets/train_presets.json: one per remedy, each
the Train page's URL query parameters (knobs it leaves out keep their defaults), so a preset is a
link, and a button that sets the page's knobs to what that link would. Each trains the plain tanh
RNN beside the remedy on the same batches; benchmarks/bench_train.py --presets measures them over
seeds 0-2, and the captions say only what that measurement shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from dashboard.state import train as TS
from dashboard.state.presets import load_items

PRESETS_FILE = Path(__file__).resolve().parents[2] / "assets" / "train_presets.json"
PAGE = "train"  # the Train page's url_path (app.py)
CONTRAST = "rnn_tanh"  # every preset trains the plain tanh RNN beside its remedy


@dataclass(frozen=True)
class TrainPreset:
    """One remedy: a title, a two-line caption (what is set; what the seeds showed) and a query."""

    id: str
    title: str
    caption: tuple[str, str]
    query: dict[str, str]  # Train page URL parameters, as a link writes them

    @property
    def settings(self) -> TS.TrainSettings:
        """The Train page's settings this preset's link gives."""
        return TS.from_query(self.query)[0]

    @property
    def link(self) -> str:
        """A relative link to the Train page with every knob written out, so it is exact."""
        return f"{PAGE}?{urlencode(TS.to_query(self.settings), safe=',')}"


def _preset(item: dict, caption: tuple[str, str]) -> TrainPreset:
    query = dict(item["query"])
    if not all(isinstance(v, str) for v in query.values()):
        raise ValueError("query values must be strings, as a URL holds them")
    p = TrainPreset(item["id"], item["title"], caption, query)
    settings, warnings = TS.from_query(query)
    if warnings:
        raise ValueError("; ".join(warnings))
    if settings.models[0] != CONTRAST or len(settings.models) < 2:
        raise ValueError(f"models must start with the plain {CONTRAST!r} and add a remedy, got "
                         f"{list(settings.models)}")
    return p


def load_train_presets(path: Path = PRESETS_FILE) -> list[TrainPreset]:
    """All remedy presets, in file order; a malformed entry raises ValueError naming it."""
    return load_items(path, _preset)
