"""Print the worst finite-difference relative error of every gradient check (float64).

    python3 bench/train_gradcheck.py > bench/results/training/gradient_check.txt

The checks of :mod:`nam_dsp.training.gradcheck`, as tests/test_training_gradients.py runs them
(bar: 1e-6).
"""

from nam_dsp.training.gradcheck import CASES, LOSS_CASES, loss_check, model_check

for case in CASES:
    for width in [1, 4, 8]:
        worst, _, _ = model_check(case, width)
        print(f"model {case:9s} w{width}: worst {max(worst.values()):.1e} over {len(worst)} groups")
for name in LOSS_CASES:
    print(f"loss {name:8s}: worst {loss_check(name):.1e}")
