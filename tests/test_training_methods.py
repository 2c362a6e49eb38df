"""The width-training methods and the end of a run: threads, schedules, distillation, averaging,
the learning-rate schedule and checkpoint selection."""

from __future__ import annotations

import json

import numpy as np
import pytest
from nam_dsp.training.data import Pair
from nam_dsp.training.trainer import (
    DEFAULT_SLIMMABLE_INIT,
    INVERSION_PENALTY,
    TrainConfig,
    Trainer,
    progressive_widths,
    width_probabilities,
)

from nam_dsp.errors import ConfigError


@pytest.fixture
def pair(saturator_pair) -> Pair:
    return saturator_pair


def _trainer(pair, tmp_path, **config) -> Trainer:
    config = {"arch": "tiny-slimmable", "batch_size": 4, "segment": 512, "threads": 1, **config}
    return Trainer(pair, TrainConfig(**config), str(tmp_path / "m.nam"))


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_split_the_batch_and_give_the_batch_gradient(pair, tmp_path, threads):
    one, many = _trainer(pair, tmp_path), _trainer(pair, tmp_path, threads=threads)
    x, y = one._next_batch()
    theta = one.theta.astype(np.float32)
    v1, g1, p1 = one._loss_grad(theta, x, y, 3)
    vn, gn, pn = many._loss_grad(theta, x, y, 3)
    assert np.array_equal(p1, pn)  # each example's prediction is the same computation
    assert abs(vn - v1) <= 1e-6 * abs(v1)  # float32 sums in another grouping
    assert np.abs(gn - g1).max() <= 1e-6 * np.abs(g1).max()
    assert np.abs(g1).max() > 0



def test_threads_validate_the_widths_side_by_side_with_the_same_result(pair, tmp_path):
    one, many = _trainer(pair, tmp_path), _trainer(pair, tmp_path, threads=2)
    esr_one, esr_many = one.validate(), many.validate()
    assert list(esr_many) == list(esr_one) == one.widths  # keyed by width, in width order
    assert esr_many == esr_one  # each width is one thread's whole computation: bit for bit

def test_progressive_shrinking_starts_at_full_width_and_adds_narrower_widths():
    widths = list(range(1, 9))
    assert progressive_widths(widths, 0.0) == [8]
    assert progressive_widths(widths, 0.19) == [8]
    seen = [progressive_widths(widths, f / 100) for f in range(20, 51)]
    assert all(set(a) <= set(b) for a, b in zip(seen, seen[1:]))  # widths only ever join
    assert all(w[-1] == 8 and w == list(range(w[0], 9)) for w in seen)  # widest first
    assert progressive_widths(widths, 0.5) == widths and progressive_widths(widths, 1.0) == widths


def test_width_weights_set_how_often_each_width_is_drawn(pair, tmp_path):
    assert width_probabilities("uniform", [1, 2, 3, 4]) is None  # the paper's draw, unchanged
    np.testing.assert_allclose(width_probabilities("linear", [1, 2, 3, 4]), [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(width_probabilities("1,1,0,2", [1, 2, 3, 4]), [0.25, 0.25, 0, 0.5])
    t = _trainer(pair, tmp_path, width_weights="0,1,0,3")
    drawn = np.array([t._step_widths()[0] for _ in range(4000)])
    assert set(drawn) == {2, 4}
    assert abs(np.mean(drawn == 4) - 0.75) < 0.03


@pytest.mark.parametrize("weights, schedule, words", [
    ("1,2", "uniform", "4 comma-separated weights"), ("a,b,c,d", "uniform", "4 comma-separated weights"),
    ("0,0,0,0", "uniform", "not all 0"), ("1,-1,1,1", "uniform", ">= 0"),
    ("linear", "sandwich", "uniform schedule")])
def test_bad_width_weights_are_refused_with_the_field_named(pair, tmp_path, weights, schedule, words):
    with pytest.raises(ConfigError, match=words) as err:
        _trainer(pair, tmp_path, width_weights=weights, schedule=schedule)
    assert "width_weights" in err.value.settings


def test_selection_prefers_a_checkpoint_whose_wider_widths_are_not_worse():
    ordered = {1: 0.10, 2: 0.05, 4: 0.030, 8: 0.020}
    inverted = {1: 0.10, 2: 0.05, 4: 0.019, 8: 0.0205}  # same mean of log ESR, within 1%
    assert Trainer.score(ordered) < Trainer.score(inverted)
    much_better = {w: v / 2 for w, v in inverted.items()}  # a small inversion, 2x lower ESR
    assert Trainer.score(much_better) < Trainer.score(ordered)
    assert INVERSION_PENALTY > 0


def test_distillation_teaches_narrow_widths_the_full_widths_output(pair, tmp_path):
    t = _trainer(pair, tmp_path, distill=0.75, schedule="uniform")
    steps, real = [], t._loss_grad

    def spy(theta, x, y, width):
        value, grad, pred = real(theta, x, y, width)
        steps[-1].append((width, y.copy(), pred.copy()))
        return value, grad, pred

    t._loss_grad = spy
    for _ in range(12):
        steps.append([])
        t._adam_step()
    mixed = [s for s in steps if len(s) == 2]
    assert mixed and all(len(s) in (1, 2) for s in steps)
    for (top_width, wet, top_pred), (width, target, _) in mixed:
        assert top_width == 4 and width < 4  # the full width first, on the wet signal
        np.testing.assert_allclose(target, 0.25 * wet + 0.75 * top_pred, rtol=1e-6, atol=1e-7)
    assert all(s[0][0] == 4 for s in steps if len(s) == 1)  # a step that drew the full width


def test_a_boosting_step_leaves_every_narrower_width_as_it_was(pair, tmp_path):
    # NAM 0.13's boosting: at width w the narrower slice is held fixed, so (from a fresh optimiser)
    # one step at the full width changes the full width's output and no other width's
    for boosting in (True, False):
        t = _trainer(pair, tmp_path, boosting=boosting)
        before = t.validate()
        t._step_widths = lambda: [4]
        t._adam_step()
        after = t.validate()
        assert after[4] != before[4]
        assert ({w: after[w] for w in (1, 2, 3)} == {w: before[w] for w in (1, 2, 3)}) is boosting
    # each width's increment: what it uses and the next narrower width does not
    masks = t.net.increment_mask
    assert np.array_equal(masks(1, None), t.net.width_mask(1))
    assert not (masks(4, 3) & t.net.width_mask(3)).any() and (masks(4, 3) | t.net.width_mask(3)).sum() \
        == t.net.width_mask(4).sum()


def test_channel_causal_weights_make_each_width_the_full_widths_first_channels(pair, tmp_path):
    # no channel reads a wider one, so the full width without the head's wider inputs is width w
    t = _trainer(pair, tmp_path, init="channel-causal", dtype="float64")
    x = pair.dry[:4096].astype(np.float64)[None, :]
    for w in (1, 2, 3):
        theta = t.theta.copy()
        t.net.unflatten(theta)[(0, None, "head_w")][:, w:] = 0
        full, _ = t.net.forward(x, None, theta, keep=False)
        narrow, _ = t.net.forward(x, w, theta, keep=False)
        np.testing.assert_allclose(full, narrow, rtol=1e-12, atol=1e-15)
    plain = _trainer(pair, tmp_path, init="drawn", dtype="float64")
    theta = plain.theta.copy()
    plain.net.unflatten(theta)[(0, None, "head_w")][:, 2:] = 0
    assert not np.allclose(plain.net.forward(x, None, theta, keep=False)[0],
                           plain.net.forward(x, 2, theta, keep=False)[0])


def test_the_init_defaults_by_architecture_and_the_export_records_it(pair, tmp_path):
    t = _trainer(pair, tmp_path, steps=1)
    assert t.init == DEFAULT_SLIMMABLE_INIT and t.cfg.init is None
    t.run()
    with open(t.out_path) as fh:
        assert json.load(fh)["metadata"]["training"]["settings"]["init"] == DEFAULT_SLIMMABLE_INIT
    assert _trainer(pair, tmp_path, arch="paper-w2").init == "drawn"  # one width: nothing to order


@pytest.mark.parametrize("config, words", [({"init": "zeros"}, "unknown init"),
                                           ({"boosting": True, "arch": "paper-w2"}, "one width"),
                                           ({"boosting": True, "optimizer": "lbfgs"}, "adam")])
def test_bad_width_methods_are_refused_with_the_field_named(pair, tmp_path, config, words):
    with pytest.raises(ConfigError, match=words) as err:
        _trainer(pair, tmp_path, **config)
    assert set(config) - {"arch", "optimizer"} <= set(err.value.settings)


def test_cosine_schedule_ends_at_the_final_fraction_and_starts_at_lr(pair, tmp_path):
    t = _trainer(pair, tmp_path, lr_schedule="cosine", lr=0.01, lr_final=0.1, steps=100)
    assert t._lr() == pytest.approx(0.01)
    t.step = 50
    assert t._lr() == pytest.approx(0.01 * (0.1 + 0.9 * 0.5))
    t.step = 100
    assert t._lr() == pytest.approx(0.001)


def test_weight_average_is_what_validation_and_export_see(pair, tmp_path):
    t = _trainer(pair, tmp_path, average=0.9, steps=30, validate_every=10)
    t.run()
    assert not np.array_equal(t.avg_theta, t.theta)
    # the export holds the average of some validation: its ESR is the one recorded as the best
    assert Trainer.score(t.validate(t.best_theta)) == pytest.approx(t.best_score)
    plain = _trainer(pair, tmp_path, steps=30, validate_every=10)
    plain.run()
    assert plain.eval_theta is plain.theta


@pytest.mark.parametrize("config", [{"schedule": "sandwich", "distill": 0.5},
                                    {"schedule": "progressive"}, {"boosting": True, "init": "channel-causal"},
                                    {"lr_schedule": "cosine", "average": 0.95}])
def test_every_method_trains_every_width(pair, tmp_path, config):
    t = _trainer(pair, tmp_path, steps=60, validate_every=30, **config)
    first = t.validate()
    t.run()
    assert all(t.best_esr[w] < first[w] for w in t.widths), (first, t.best_esr)
