"""The Markdown tables and the per-tone figure, made from the ``<tone>.json`` results alone."""

from __future__ import annotations

import math
import statistics

from nam_dsp.training.trainer import NAM_THRESHOLDS

FULL_RUN = "python -m bench.paper --tones clean crunch lead rhythm --budget-minutes 30 --jobs 2"
ORDER = ["slimmable-paper", "paper-full", "a1-standard", "a1-nano-paper", "paper-w2", "paper-w4"]
STYLE = {  # marker, colour
    "slimmable-paper": ("o", "tab:blue"),
    "paper-full": ("*", "tab:red"),
    "a1-standard": ("s", "tab:green"),
    "a1-nano-paper": ("^", "tab:purple"),
    "paper-w2": ("D", "tab:orange"),
    "paper-w4": ("D", "tab:brown"),
}


#: What each model is, in a musician's words (the JSON's ``label`` is the paper's shorthand).
PLAIN_LABELS = {
    "slimmable-paper": "slimmable: one model, any width 1..8",
    "paper-full": "trained for width 8 only",
    "paper-w2": "trained for width 2 only",
    "paper-w4": "trained for width 4 only",
    "a1-standard": "NAM A1 standard (16 + 8 channels)",
    "a1-nano-paper": "NAM A1 nano",
}
#: The paper's claim, as bars: slimmable ESR over the model trained for that width alone.
TARGETS = {8: ("paper-full", 1.25), 4: ("paper-w4", 1.5), 2: ("paper-w2", 1.5)}


def verdict_on_targets(result) -> str:
    """One line per width: does the slimmable model reach the model trained for that width?"""
    lines = []
    for width, (model, bar) in sorted(TARGETS.items()):
        s, d = _point(result, "slimmable-paper", width), _point(result, model)
        if s and d:
            ratio = s["esr"] / d["esr"]
            lines.append(f"width {width}: {ratio:.2f}x the ESR of the model trained for it "
                         f"({'reaches' if ratio <= bar else 'misses'} the {bar:g}x bar)")
    return "\n".join(lines)


def _point(result, model, width=None):
    d = result["models"].get(model)
    if not d:
        return None
    pts = d["points"]
    if width is None:
        return pts[-1]
    return next((p for p in pts if p["width"] == width), None)


def comparisons(result) -> list:
    """The figures the discussion rests on, each computed from the tone's JSON: (what, value)."""
    rows = []
    s8, full = _point(result, "slimmable-paper", 8), _point(result, "paper-full")
    if s8 and full:
        rows.append(("ESR slimmable w8 / new (full)", s8["esr"] / full["esr"]))
    for c in (2, 4):
        s, d = _point(result, "slimmable-paper", c), _point(result, f"paper-w{c}")
        if s and d:
            rows.append((f"ESR slimmable w{c} / dedicated w{c}", s["esr"] / d["esr"]))
            rows.append((f"x real time slimmable w{c} / dedicated w{c}", s["xrt_cpu"] / d["xrt_cpu"]))
    slim = result["models"].get("slimmable-paper")
    for base in ("a1-standard", "a1-nano-paper"):
        b = _point(result, base)
        if not (slim and b):
            continue
        faster_better = [p["width"] for p in slim["points"] if p["xrt_cpu"] >= b["xrt_cpu"] and p["esr"] <= b["esr"]]
        rows.append((f"slimmable widths at least as fast and as accurate as {result['models'][base]['label']}",
                     ", ".join(map(str, faster_better)) or "none"))
        # the narrowest width at least as accurate, and its speed ratio
        acc = [p for p in slim["points"] if p["esr"] <= b["esr"]]
        if acc:
            p = min(acc, key=lambda q: q["width"])
            rows.append((f"narrowest slimmable width with ESR <= {result['models'][base]['label']} "
                         f"(x real time ratio)", f"w{p['width']} ({p['xrt_cpu'] / b['xrt_cpu']:.2f}x)"))
        else:
            rows.append((f"narrowest slimmable width with ESR <= {result['models'][base]['label']}", "none"))
    return rows


SUMMARY_COLUMNS = [("slimmable-paper", 2), ("paper-w2", 2), ("slimmable-paper", 4), ("paper-w4", 4),
                   ("a1-nano-paper", None), ("slimmable-paper", 8), ("paper-full", None), ("a1-standard", None)]


def summary(results) -> list:
    """One line per tone: the validation ESR of the points the comparison is about, then their speed."""
    if not results:
        return []
    names = {"slimmable-paper": "slim", "paper-w2": "ded.", "paper-w4": "ded.", "a1-nano-paper": "A1 nano",
             "paper-full": "new (full)", "a1-standard": "A1 std"}
    heads = [f"{names[m]} w{w}" if w else names[m] for m, w in SUMMARY_COLUMNS]
    lines = ["### Validation ESR (all tones)", "", "| tone | CPU-min | " + " | ".join(heads) + " |",
             "|---|---:|" + "---:|" * len(heads)]
    def cells(r, figure):  # one tone's summary points, "-" where a model is missing
        points = (_point(r, m, w) for m, w in SUMMARY_COLUMNS)
        return " | ".join("-" if p is None else figure(p) for p in points)

    for r in results:
        lines.append(f"| {r['tone']} | {r['budget']['cpu_minutes_per_model']:g} | "
                     f"{cells(r, lambda p: format(p['esr'], '.4f'))} |")
    # one row per tone, not a median: tones measured on different days or kernels (AVX2, AVX-512)
    # have speeds that only compare within their own row
    lines += ["", "### x real time (64-sample blocks, 1 thread, per CPU second; each tone's models timed in turns)", "",
              "| tone | kernels | " + " | ".join(heads) + " |", "|---|---|" + "---:|" * len(heads)]
    for r in results:
        lines.append(f"| {r['tone']} | {r['machine'].get('isa', '?')} | "
                     f"{cells(r, lambda p: format(p['xrt_cpu'], '.0f'))} |")
    lines += [""]
    return lines


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def markdown(results: list, settings, command: str) -> str:
    """``bench/results/paper/README.md``: how it was made, then one table per tone."""
    lines = ["# The paper's figure: validation ESR and x real time per model and width", "",
             "Generated by `python -m bench.paper` from `<tone>.json` in this folder (every number below is in "
             "those files; `python -m bench.paper --plots-only --budget-minutes M` rebuilds this page and the "
             "figures from `cache/`).", ""]
    budgets = sorted({r["budget"]["cpu_minutes_per_model"] for r in results})
    if budgets and max(budgets) < 30:
        lines += [f"**Short-budget results: {', '.join(f'{b:g}' for b in budgets)} CPU-minute(s) of training per "
                  "model**, far below the 30 CPU-minutes planned for the full run: the models are under-trained and their ranking "
                  "can change with more training. The full run (30 CPU-minutes per model, 4 tones x 6 models = "
                  "12 CPU-hours, about 6.5 hours on 2 idle cores with `--jobs 2`, ~13 hours with `--jobs 1`) "
                  "resumes from the cache with:", "", f"    {FULL_RUN}", ""]
    lines += ["Protocol: each model trains on `../shared/data/tones` (`dry.flac` -> `wet_<tone>.flac`, train and "
              "validation ranges from `split.json`) with `nam_dsp.training` (Adam, lr 0.004, batch 16 x 8192 "
              "samples, NAM's MSE + MRSTFT loss, seed as listed, one BLAS thread) for its budget: "
              + ("M CPU-minutes counted as 60 M x the model's steps per CPU-second at the reference speed "
                 "(`step_rates.json`), the same work on a fast day and a slow one"
                 if settings.step_rates is not None else "M minutes of its process's CPU time")
              + "; the best checkpoint (validated every "
              f"{settings.validate_every} steps and at the end) is exported. ESR: the exported `.nam` run by the "
              "engine over the validation audio, every model scored on the same samples. x real time: "
              "`nam_dsp.benchmark` at 64-sample blocks, one thread, audio seconds per CPU second of the thread "
              "(best of the repeats, every model and width timed in turns; the wall-clock figure `xrt` is in the JSON).", ""]
    if len(results) > 1:
        lines += ["![all tones](all_tones.png)", ""]
    lines += summary(results)
    for r in results:
        b = r["budget"]
        lines += [f"## {r['tone']} ({r['capture']})", "",
                  f"Budget {b['cpu_minutes_per_model']:g} CPU-minutes per model, seed {b['seed']}; commit "
                  f"`{r['commit']}`; {r['machine']['cpu']}, {r['machine']['cores']} cores, {r['machine'].get('isa', '?')} "
                  f"kernels; reproduce (resumes from the "
                  f"cache): `{r['command']}`.", "",
                  "| model | width | val ESR | x real time (CPU) | MACs/sample | steps | epochs | on front |",
                  "|---|---:|---:|---:|---:|---:|---:|:---:|"]
        front = {(f["model"], f["width"]) for f in r["pareto_front"]}
        for m in ORDER:
            d = r["models"].get(m)
            if not d:
                continue
            for p in d["points"]:
                t = d["training"]
                lines.append(f"| {d['label']} | {p['width']} | {p['esr']:.4f} | {p['xrt_cpu']:.0f} | "
                             f"{p['macs_per_sample']} | {t['steps']} | {t['epochs']} | "
                             f"{'yes' if (m, p['width']) in front else ''} |")
        if r["missing"]:
            lines.append(f"\nNot trained yet: {', '.join(r['missing'])}.")
        drift = speed_drift(r)
        if drift:
            lines.append("\n" + drift)
        comp = comparisons(r)
        if comp:
            lines += ["", "| comparison | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in comp]
        lines += ["", f"![{r['tone']}]({r['tone']}.png)", ""]
    return "\n".join(lines) + "\n"


#: Above this ratio between the fastest and the slowest machine speed recorded for one tone's
#: models, their equal CPU budgets were not equal work, and the report says so.
SPEED_DRIFT_LIMIT = 1.25


def speed_drift(result) -> str:
    """A caution when a tone's models did unequal work for their equal budgets, else ''.

    A budget counted in steps (``budget_steps``) is the same work whatever the machine's speed;
    the caution names runs whose steps are more than 5% from it (runs trained under a CPU-time
    budget before step budgets). A CPU-time budget is compared through the machine speeds
    (``bench/machine_speed.py``) recorded for the models' runs: more than
    :data:`SPEED_DRIFT_LIMIT` apart, or unrecorded for some, is a caution."""
    models = result["models"]
    if result.get("budget", {}).get("steps_per_cpu_second"):
        off = sorted((m, d["training"]["steps"], d["budget_steps"]) for m, d in models.items()
                     if d.get("budget_steps") and abs(d["training"]["steps"] / d["budget_steps"] - 1) > 0.05)
        if not off:
            return ""
        return ("**Caution:** trained under a CPU-time budget before budgets were counted in steps, "
                + ", ".join(f"{m} made {s} steps against the budget's {b}" for m, s, b in off) + ".")
    speeds = {m: d.get("trainer_samples_per_cpu_second") for m, d in models.items()}
    known = {m: statistics.mean(s) for m, s in speeds.items() if s}
    unknown = sorted(m for m, s in speeds.items() if not s)
    notes = []
    if known and max(known.values()) > SPEED_DRIFT_LIMIT * min(known.values()):
        notes.append("the machine's training speed differed between these models' runs ("
                     + ", ".join(f"{m} {v:.0f}" for m, v in sorted(known.items()))
                     + " training samples per CPU-second), so their equal CPU budgets were not equal work")
    if unknown and len(unknown) < len(speeds):
        notes.append(f"no machine speed was recorded for {', '.join(unknown)} (trained before the probe existed)")
    return ("**Caution:** " + "; ".join(notes) + ".") if notes else ""


def plot_tone(plt, result, path) -> None:
    """x real time (x, log) against validation ESR (y, log): the slimmable widths joined as a front,
    every other model a labelled point, the overall Pareto front as a dashed step line."""
    fig, ax = plt.subplots(figsize=(8.5, 6))
    draw(ax, result)
    b = result["budget"]["cpu_minutes_per_model"]
    ax.set_title(f"{result['tone']}: {result['capture']}\n{b:g} CPU-minute(s) of training per model, "
                 f"seed {result['budget']['seed']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def curves(result, model, width) -> list:
    """(step, ESR) of ``model``'s validations at ``width``."""
    d = result["models"].get(model)
    rows = (d or {}).get("validation_history") or []
    key = str(width)
    return [(step, esr[key]) for step, _seconds, esr, *_ in rows if key in esr]


def plot_curves(plt, result, path) -> bool:
    """Validation ESR over training, one panel per target width: the slimmable model at that width
    beside the model trained for that width alone, so a miss shows whether the gap is closing
    (more budget would help) or flat (the method is the limit). False when no run has curves."""
    panels = [(w, m) for w, (m, _bar) in sorted(TARGETS.items())
              if curves(result, "slimmable-paper", w) or curves(result, m, w)]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    for ax, (width, dedicated) in zip(axes[0], panels):
        for model, style in (("slimmable-paper", "-"), (dedicated, "--")):
            pts = curves(result, model, width)  # a dedicated model's only width is its key too
            if pts:
                name = f"slimmable, width {width}" if model == "slimmable-paper" else PLAIN_LABELS[model]
                ax.plot(*zip(*pts), style, color=STYLE[model][1], lw=1.5, label=name)
            elif model != "slimmable-paper" and result["models"].get(model, {}).get("points"):
                # trained before runs recorded their history: its final figure, for scale
                final = result["models"][model]["points"][-1]["esr"]
                ax.axhline(final, ls=style, color=STYLE[model][1], lw=1.2,
                           label=f"{PLAIN_LABELS[model]}: final (no curve recorded)")
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.set_xlabel("optimizer steps")
        ax.set_title(f"width {width}", fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("validation ESR")
    b = result["budget"]["cpu_minutes_per_model"]
    fig.suptitle(f"{result['tone']}: validation during training, {b:g} CPU-minutes per model", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def plot_all(plt, results, path) -> None:
    """The per-tone figures side by side (2 x 2 for four tones)."""
    n = len(results)
    cols = 2 if n > 1 else 1
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7.5 * cols, 5.4 * rows), squeeze=False)
    for ax, result in zip(axes.ravel(), results):
        draw(ax, result, small=True)
        ax.set_title(f"{result['tone']} ({result['budget']['cpu_minutes_per_model']:g} CPU-min per model)",
                     fontsize=11)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


#: Where a baseline's label goes (offset in points, alignment) when not to the lower right, and its
#: shorter name beside the marker (the legend has the whole one).
LABEL_PLACES = {"a1-nano-paper": ((0, 9), "center"), "a1-standard": ((0, 9), "center")}
MARKER_NAMES = {"a1-standard": "NAM A1 standard"}


def draw(ax, result, small=False) -> None:
    models = result["models"]
    slim = models.get("slimmable-paper")
    if slim:
        pts = slim["points"]
        ax.plot([p["xrt_cpu"] for p in pts], [p["esr"] for p in pts], "-o", color=STYLE["slimmable-paper"][1],
                ms=6, lw=1.8, label=PLAIN_LABELS["slimmable-paper"], zorder=3)
        for p in pts:
            ax.annotate(f"w{p['width']}", (p["xrt_cpu"], p["esr"]), xytext=(5, 4), textcoords="offset points",
                        fontsize=9, color=STYLE["slimmable-paper"][1])
    for m in ORDER[1:]:
        d = models.get(m)
        if not d:
            continue
        p = d["points"][-1]
        marker, colour = STYLE[m]
        label = PLAIN_LABELS.get(m, d["label"])
        ax.plot([p["xrt_cpu"]], [p["esr"]], marker, color=colour, ms=13 if marker == "*" else 9,
                ls="none", label=label, zorder=4, markeredgecolor="black", markeredgewidth=0.6)
        # A1 nano sits between dedicated w2 and w4, A1 standard at about the ESR of "trained for width
        # 8 only": their labels go above the marker, the others' to the lower right
        offset, ha = LABEL_PLACES.get(m, ((7, -12), "left"))
        ax.annotate(MARKER_NAMES.get(m, label), (p["xrt_cpu"], p["esr"]), xytext=offset,
                    textcoords="offset points", ha=ha, fontsize=9, color=colour)
    flat = [(p["xrt_cpu"], p["esr"]) for d in models.values() for p in d["points"]]
    front = sorted((flat[i] for i in _front_indices(flat)), key=lambda q: -q[0])
    if len(front) > 1:
        xs, ys = [], []
        for x, y in front:  # a staircase from the fastest point to the most accurate one
            if xs:
                xs.append(x)
                ys.append(ys[-1])
            xs.append(x)
            ys.append(y)
        ax.plot(xs, ys, "--", color="grey", lw=1, alpha=0.7, label="Pareto front (all models)", zorder=2)
    for value, words in NAM_THRESHOLDS:
        ax.axhline(value, color="0.45", lw=0.8, ls=":", zorder=1)
        ax.annotate(f"NAM: {words}", (1.0, value), xycoords=("axes fraction", "data"), ha="right",
                    va="bottom", fontsize=7, color="0.35")
    verdict = verdict_on_targets(result)
    if verdict:
        ax.text(0.99, 0.03, verdict, transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7 if small else 8, bbox={"boxstyle": "round", "fc": "white", "alpha": 0.85})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.margins(x=0.12, y=0.12)  # before the limits below are read: setting them ends autoscaling
    if verdict:  # room under the most accurate point for the verdict's box, so that it covers no marker
        lo, hi = ax.get_ylim()
        lowest = min(y for _, y in flat)
        room = 0.22  # of the axes' height, in log ESR
        ax.set_ylim(min(lo, 10 ** ((math.log10(lowest) - room * math.log10(hi)) / (1 - room))), hi)
    _plain_log_ticks(ax)
    ax.set_xlabel("x real time (64-sample blocks, 1 thread, per CPU second)  \u2192 faster")
    ax.set_ylabel("validation ESR  (lower is better)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7 if small else 8, loc="best")  # the data leave a different corner free on each tone


def _plain_log_ticks(ax) -> None:
    """Decimal tick labels (0.03, 200) instead of 3x10^-2; minor ticks labelled at 2, 3 and 5 only."""
    from matplotlib.ticker import FuncFormatter

    def major(v, _):
        return f"{v:g}"

    def minor(v, _):
        if v <= 0:
            return ""
        mantissa = round(v / 10 ** math.floor(math.log10(v)), 6)
        return f"{v:g}" if mantissa in (2.0, 3.0, 5.0) else ""

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(major))
        axis.set_minor_formatter(FuncFormatter(minor))


def _front_indices(flat):
    out = []
    for i, (x, y) in enumerate(flat):
        if not any(x2 >= x and y2 <= y and (x2 > x or y2 < y) for j, (x2, y2) in enumerate(flat) if j != i):
            out.append(i)
    return out


__all__ = ["markdown", "plot_tone", "plot_all", "draw", "comparisons", "verdict_on_targets", "FULL_RUN"]
