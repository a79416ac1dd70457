"""Write the concept graph (GraphML, node-link JSON) and the timeline figure."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from mm2music.types import Analysis, Plan


def _graphml_safe(g: nx.DiGraph) -> nx.DiGraph:
    """GraphML holds scalars only: lists, tuples and dicts become JSON strings, None is dropped."""
    h = nx.DiGraph()
    h.graph.update({k: v for k, v in g.graph.items() if isinstance(v, (str, int, float, bool))})

    def clean(data: dict) -> dict:
        out = {}
        for k, v in data.items():
            if v is None:
                continue
            out[k] = v if isinstance(v, (str, int, float, bool)) else json.dumps(v)
        return out

    for n, data in g.nodes(data=True):
        h.add_node(n, **clean(data))
    for a, b, data in g.edges(data=True):
        h.add_edge(a, b, **clean(data))
    return h


def write_graph(g: nx.DiGraph, graphml: Path, node_link: Path) -> None:
    nx.write_graphml(_graphml_safe(g), graphml)
    node_link.write_text(json.dumps(nx.node_link_data(g, edges="links"), indent=1, default=str) + "\n", encoding="utf-8")


def write_timeline(path: Path, analysis: Analysis, plan: Plan, piano_roll: list[tuple[float, float, int]] | None = None) -> None:
    """Emotion curve over time, the scenes and cuts, the planned key / tempo / instruments per cue.

    ``piano_roll`` (start s, end s, MIDI pitch) adds the generated notes underneath, when there are any.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # no pyplot: no global figure registry, no backend switch, safe on any thread

    rows = 3 if piano_roll else 2
    height = 2.2 * rows + 1
    fig = Figure(figsize=(12, height))
    # fixed margins in inches (the labels' sizes are fixed): tight_layout drew the whole figure once more to find them
    fig.subplots_adjust(left=0.75 / 12, right=1 - 0.2 / 12, top=1 - 0.4 / height, bottom=0.55 / height, hspace=0.08)
    axes = fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2, 3][:rows]})
    ax = axes[0]
    xs, vs, ars = [], [], []
    for cue in plan.cues:
        xs += [cue.start, cue.end]
        vs += [cue.valence, cue.valence]
        ars += [cue.arousal, cue.arousal]
    ax.plot(xs, vs, color="tab:orange", lw=2, label="valence")
    ax.plot(xs, ars, color="tab:blue", lw=2, label="arousal")
    ax.axhline(0, color="0.7", lw=0.8)
    for t in analysis.transitions:
        if t.kind == "cut":
            ax.axvline(t.time, color="0.3", lw=0.8, ls="--")
        else:
            ax.axvspan(t.start, t.end, color="0.85")
    for cue in plan.cues:
        top = ", ".join(k for k, _ in sorted(cue.emotions.items(), key=lambda kv: -kv[1])[:2])
        ax.text((cue.start + cue.end) / 2, 0.92, top, ha="center", va="top", fontsize=8, transform=ax.get_xaxis_transform())
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("emotion")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{Path(analysis.source).name}: emotion, scenes and musical plan")
    ax = axes[1]
    colours = colormaps["tab10"]
    for cue in plan.cues:
        theme_idx = (ord(cue.theme[0]) - ord("A")) % 10
        ax.axvspan(cue.start, cue.end, color=colours(theme_idx), alpha=0.25)
        label = f"{cue.key} {cue.mode[:3]}\n{cue.tempo_bpm:.0f} BPM {cue.meter}\n{cue.figure}, {cue.dynamics}\n{', '.join(cue.instruments[:3])}\ntheme {cue.theme}"
        ax.text((cue.start + cue.end) / 2, 0.5, label, ha="center", va="center", fontsize=7)
    curve = plan.intensity_curve()
    if curve:  # the intensity curve: which layers play, how loud
        times, values = zip(*curve)
        ax.step(list(times) + [plan.duration], list(values) + [values[-1]], where="post", color="black", lw=1.5, label="intensity")
        ax.legend(loc="upper right", fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_yticks([0, 0.5, 1])
    ax.set_ylabel("plan / intensity")
    if piano_roll:
        ax = axes[2]
        starts, ends, pitches = zip(*piano_roll)
        ax.hlines(pitches, starts, ends, color="tab:green", lw=2)  # one collection, not an artist per note
        ax.vlines([cue.start for cue in plan.cues[1:]], 0, 1, transform=ax.get_xaxis_transform(), color="0.3", lw=0.8, ls="--")
        ax.set_ylabel("pitch")
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, plan.duration)
    fig.savefig(path, dpi=110)  # a Figure without pyplot draws with Agg
