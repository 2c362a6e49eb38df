"""Summarise bench/results/training/*.json as a Markdown table (bench/results/training/README.md).

    python3 bench/train_results.py > bench/results/training/README.md
"""

import glob
import json
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "training")


#: The run per tone that the summary compares: ours with a CPU-time budget of one core.
SUMMARY_RUNS = {"clean": "clean_cpu20", "crunch": "crunch_cpu30", "lead": "lead_cpu30", "rhythm": "rhythm_cpu30"}


def _load(name):
    path = os.path.join(HERE, name + ".json")
    return json.load(open(path)) if os.path.isfile(path) else None


def _nam_for(tone, ours):
    """NAM's trainer on this tone: its own run here (nam_<tone>_*.json), else the shared README's figures."""
    for path in sorted(glob.glob(os.path.join(HERE, f"nam_{tone}_*.json"))):
        d = json.load(open(path))
        return d["validation_esr"], f"{d['budget_cpu_minutes']:g} CPU-min ({d['trainer']}, `{os.path.basename(path)}`)"
    nam = ours.get("nam_trainer_validation_esr")
    if nam:
        return nam, f"{ours.get('nam_trainer_budget')} (shared/data/README.md)"
    return None, None


def summary():
    """One table, all four tones: our CPU-budget run next to NAM's trainer, ratio per width."""
    rows = []
    for tone, name in SUMMARY_RUNS.items():
        ours = _load(name)
        if ours is None:
            continue
        nam, nam_budget = _nam_for(tone, ours)
        widths = sorted(ours["validation_esr"], key=int)
        rows.append(f"| {tone} | nam_dsp, {ours['budget_cpu_minutes']:g} CPU-min (1 core, `{name}.json`) | "
                    + " | ".join(f"{ours['validation_esr'][w]:.4f}" for w in widths) + " |")
        if nam:
            rows.append(f"| {tone} | NAM trainer, {nam_budget} | " + " | ".join(f"{nam[w]:.4f}" for w in widths) + " |")
            rows.append(f"| {tone} | ratio (< 1: ours better) | "
                        + " | ".join(f"{ours['validation_esr'][w] / nam[w]:.2f}" for w in widths) + " |")
        else:
            rows.append(f"| {tone} | NAM trainer | " + " | ".join("n/a" for _ in widths) + " |")
    if not rows:
        return
    print("## All four tones\n")
    print("Validation ESR at widths 1..8 on the validation part of `split.json`. Ours: the trainer's "
          "validation (its forward equals the engine's render of the exported file to ~1e-7). NAM's "
          "own runs here: our engine renders NAM's exported model at each width, an evaluation that "
          "reproduces NAM's figures for crunch and clean.\n")
    print("| tone | trainer, budget | " + " | ".join(str(w) for w in range(1, 9)) + " |")
    print("|---|---|" + "---|" * 8)
    print("\n".join(rows) + "\n")


def main():
    print("# Training results (nam_dsp.training, no autograd)\n")
    print("Validation ESR per width of the paper's slimmable model (8 ch, K=6, dilations "
          "[1,4,16,64,256]x3) trained on `../shared/data/tones` with the paper's protocol (one width "
          "drawn uniformly from 1..8 per step, Adam lr 0.004 x 0.994/epoch, batch 16 x 8192, "
          "MSE + 2e-4 MRSTFT), next to NAM's PyTorch trainer on this machine (same data, split and "
          "protocol; its budget: wall minutes with 2 threads). Ratio = ours / NAM's (< 1: better).\n")
    summary()
    for path in sorted(glob.glob(os.path.join(HERE, "*.json"))):
        d = json.load(open(path))
        if "validation_esr" not in d or "tone" not in d or d.get("trainer"):
            continue
        ours, nam = d["validation_esr"], d.get("nam_trainer_validation_esr") or {}
        budget = (f"{d['budget_cpu_minutes']} CPU-minutes" if d.get("budget_cpu_minutes")
                  else f"{d['budget_minutes']} wall minutes")
        cpu = d.get("train_cpu_seconds")
        print(f"## {os.path.basename(path)[:-5]}: {d['tone']}, budget {budget}\n")
        print(f"{d['steps']} steps, {d['epochs']} epochs, {d['train_seconds']:.0f} s wall"
              + (f", {cpu:.0f} CPU-s" if cpu else "") + f". Command: `{d['command']}`\n")
        if d.get("note"):
            print(f"Note: {d['note']}\n")
        widths = sorted(ours, key=int)
        print("| width | " + " | ".join(widths) + " |")
        print("|---|" + "---|" * len(widths))
        print("| nam_dsp | " + " | ".join(f"{ours[w]:.4f}" for w in widths) + " |")
        if nam:
            print("| NAM trainer | " + " | ".join(f"{nam[w]:.4f}" for w in widths) + " |")
            print("| ratio | " + " | ".join(f"{ours[w] / nam[w]:.2f}" for w in widths) + " |")
        print()
    tp = os.path.join(HERE, "throughput.json")
    if os.path.isfile(tp):
        t = json.load(open(tp))
        print("## Throughput (bench/train_throughput.py --vs-pytorch)\n")
        print("Forward + loss + backward + clipping + Adam step, paper arch, batch 16 x 8192, float32; "
              f"ours on 1 thread, the peer ({t.get('peer', 'none')} {t.get('peer_nam', '')}, torch "
              f"{t.get('peer_torch', '?')}) measured in the same run (1-min load average at the start: "
              f"{t.get('load_average_1min'):.2f}).\n")
        print("| measure | output samples/s |")
        print("|---|---|")
        print(f"| nam_dsp, width 8, 1 thread | {t['samples_per_second_width8']:,} |")
        print(f"| nam_dsp, uniform widths 1..8, 1 thread | {t['samples_per_second_uniform_widths']:,} |")
        if t.get("peer_samples_per_second_2threads"):
            print(f"| NAM trainer, width 8, 2 threads | {t['peer_samples_per_second_2threads']:,} |")
            print(f"| NAM trainer, width 8, 1 thread | {t['peer_samples_per_second_1thread']:,} |")
            if t.get("peer_slimmable_samples_per_second_2threads"):
                print(f"| NAM trainer, slimmable widths 1..8, 2 threads | {t['peer_slimmable_samples_per_second_2threads']:,} |")
            print(f"\nRatios: width 8, ours (1 thread) / NAM (2 threads) = {t['measured_ratio_width8_ours1_vs_peer2']}; "
                  f"one thread each = {t['measured_ratio_width8_ours1_vs_peer1']}; over widths, ours / NAM "
                  f"(2 threads) = {t.get('measured_ratio_uniform_widths_ours1_vs_peer2')}.")
        print()
    gc = os.path.join(HERE, "gradient_check.txt")
    if os.path.isfile(gc):
        print("## Gradient checks (bench/train_gradcheck.py; bar 1e-6)\n")
        print("```\n" + open(gc).read().rstrip() + "\n```")


if __name__ == "__main__":
    main()
