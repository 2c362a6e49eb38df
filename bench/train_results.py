"""Summarise bench/results/training/*.json as a Markdown table (bench/results/training/README.md).

    python3 bench/train_results.py > bench/results/training/README.md
"""

import glob
import json
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "training")


def main():
    print("# Training results (nam_dsp.training, no autograd)\n")
    print("Validation ESR per width of the paper's slimmable model (8 ch, K=6, dilations "
          "[1,4,16,64,256]x3) trained on `../shared/data/tones` with the paper's protocol (one width "
          "drawn uniformly from 1..8 per step, Adam lr 0.004 x 0.994/epoch, batch 16 x 8192, "
          "MSE + 2e-4 MRSTFT), next to NAM's PyTorch trainer on this machine (same data, split and "
          "protocol; its budget: wall minutes with 2 threads). Ratio = ours / NAM's (< 1: better).\n")
    for path in sorted(glob.glob(os.path.join(HERE, "*.json"))):
        d = json.load(open(path))
        if "validation_esr" not in d or "tone" not in d:
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
        print("## Throughput (bench/train_throughput.py)\n")
        print("Forward + backward + Adam step, paper arch, batch 16 x 8192, float32, 1 thread "
              f"(1-min load average during the run: {t.get('load_average_1min')}).\n")
        print("| measure | samples/s | ratio to NAM's PyTorch trainer (285,000/s, 2 threads) |")
        print("|---|---|---|")
        print(f"| width 8, wall | {t['samples_per_second_width8']:,} | {t['ratio_width8']} |")
        print(f"| uniform widths 1..8, wall | {t['samples_per_second_uniform_widths']:,} | {t['ratio_uniform_widths']} |")
        print(f"| width 8, per CPU second | {t['samples_per_cpu_second_width8']:,} | {t['ratio_width8_cpu']} |")
        print(f"| uniform widths, per CPU second | {t['samples_per_cpu_second_uniform_widths']:,} | "
              f"{round(t['samples_per_cpu_second_uniform_widths'] / 285000, 3)} |")
        print()
    gc = os.path.join(HERE, "gradient_check.txt")
    if os.path.isfile(gc):
        print("## Gradient checks (bench/train_gradcheck.py; bar 1e-6)\n")
        print("```\n" + open(gc).read().rstrip() + "\n```")


if __name__ == "__main__":
    main()
