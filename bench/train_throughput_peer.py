"""PyTorch peer for bench/train_throughput.py: the same training step, timed under torch.

    python train_throughput_peer.py [--threads 2] [--repeats 8] [--slimmable] [--check]

Standalone: needs torch (and optionally neural-amp-modeler), never nam_dsp, so it runs in the
throwaway venv that ``bench/train_throughput.py --vs-pytorch`` creates. One step is forward + loss
+ backward + gradient clipping (norm 1.0, as nam_dsp's trainer; NAM's trainer does not clip by
default, the cost is negligible) + Adam on a fixed random batch of 16 x 8,192 output samples
(input 16 x (receptive field - 1 + 8,192)), float32, ``torch.set_num_threads(T)``.

Model and loss:

* if ``import nam`` works (neural-amp-modeler 0.13.0), NAM's own ``LightningModule`` built from
  the paper's config (one layer array: input 1, condition 1, channels 8, kernel 6, dilations
  [1,4,16,64,256] x 3, Tanh, not gated, layer 1x1 on, head 1 channel kernel 1 without bias,
  head_scale 0.01; loss MSE + 2e-4 x MRSTFT, NAM's default), stepped with its own
  ``training_step`` (which calls the net with ``pad_start=False``) and its own Adam.
  ``--slimmable`` adds NAM's slimmable config (``slice_channels_uniform``, allowed channels 1..8)
  and runs widths 1..8 in turn, one per step, like the nam_dsp side's uniform-widths figure;
* otherwise (or with ``--reimplementation``) a plain PyTorch re-implementation of the same network
  as ``nn.Conv1d`` layers, laid out as NAM lays it out (valid convolutions: every layer trims its
  output, no padding): input rechannel 1x1 without bias; per layer a dilated K=6 conv with bias
  plus a 1x1 input mixin without bias from the raw input, tanh, a 1x1 with bias back into the
  residual stream; the activations summed into the head; head 1x1 to one channel; times
  head_scale 0.01. The loss is MSE + 2e-4 x MRSTFT as nam_dsp's training/losses.py computes it
  (FFT sizes 1024, 2048, 512, hop n/4, periodic Hann, no centre padding, spectral convergence +
  mean |log magnitude| difference, averaged over the resolutions; auraloss, which NAM uses,
  defaults to other hops and window lengths).

Prints one JSON object: peer ("nam" or "pytorch-reimplementation"), torch version, threads,
samples_per_second (output samples over the summed wall time of the timed steps, as the nam_dsp
side computes it), seconds_per_step (median), the per-CPU-second figure, the loss over the timed
steps. ``--check`` instead prints the output shape and the loss over 20 steps at lr 4e-3.
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

BATCH, SEGMENT = 16, 8192
CHANNELS, KERNEL = 8, 6
DILATIONS = [1, 4, 16, 64, 256] * 3
HEAD_SCALE = 0.01
MRSTFT_WEIGHT = 2e-4

# NAM 0.13.0's keys for the paper's layer array (older releases spelled the head "head_size" /
# "head_bias" and gating "gated"; 0.13.0 takes a "head" object and gating through the activation).
NAM_LAYER_CONFIG = {
    "input_size": 1, "condition_size": 1, "channels": CHANNELS, "kernel_size": KERNEL,
    "dilations": DILATIONS, "activation": "Tanh",
    "head": {"out_channels": 1, "kernel_size": 1, "bias": False},
}
NAM_SLIMMABLE = {"method": "slice_channels_uniform",
                 "kwargs": {"allowed_channels": list(range(1, CHANNELS + 1))}}


class PaperWaveNet(nn.Module):
    """The paper's WaveNet as NAM's trainer runs it: (B, L) -> (B, L - receptive_field + 1).

    ``head_bias`` defaults to True to match nam_dsp's ``slimmable-paper`` preset (one extra
    parameter; NAM's paper config has none, the cost is the same).
    """

    def __init__(self, channels=CHANNELS, kernel=KERNEL, dilations=DILATIONS, head_bias=True,
                 head_scale=HEAD_SCALE):
        super().__init__()
        c = channels
        self.rechannel = nn.Conv1d(1, c, 1, bias=False)
        self.convs = nn.ModuleList(nn.Conv1d(c, c, kernel, dilation=d) for d in dilations)
        self.mixins = nn.ModuleList(nn.Conv1d(1, c, 1, bias=False) for _ in dilations)
        self.layer1x1 = nn.ModuleList(nn.Conv1d(c, c, 1) for _ in dilations)
        self.head = nn.Conv1d(c, 1, 1, bias=head_bias)
        self.head_scale = head_scale
        self.receptive_field = 1 + sum((kernel - 1) * d for d in dilations)

    def forward(self, x):
        x = x[:, None, :]
        h = self.rechannel(x)
        acc = None
        for conv, mixin, l1 in zip(self.convs, self.mixins, self.layer1x1):
            z = conv(h)
            n = z.shape[-1]
            a = torch.tanh(z + mixin(x[..., -n:]))
            h = h[..., -n:] + l1(a)
            acc = a if acc is None else acc[..., -n:] + a
        return self.head_scale * self.head(acc)[:, 0, :]


def _stft_loss(p, t, n_fft, eps=1e-8):
    hop = n_fft // 4
    win = torch.hann_window(n_fft, dtype=p.dtype)  # periodic, as auraloss and nam_dsp
    sp = torch.fft.rfft(p.unfold(-1, n_fft, hop) * win, dim=-1)
    st = torch.fft.rfft(t.unfold(-1, n_fft, hop) * win, dim=-1)
    mp = torch.sqrt(torch.clamp(sp.real ** 2 + sp.imag ** 2, min=eps))
    mt = torch.sqrt(torch.clamp(st.real ** 2 + st.imag ** 2, min=eps))
    sc = torch.linalg.norm(mt - mp) / torch.linalg.norm(mt)
    lm = torch.mean(torch.abs(torch.log(mt) - torch.log(mp)))
    return sc + lm


def mrstft(p, t, fft_sizes=(1024, 2048, 512)):
    return sum(_stft_loss(p, t, n) for n in fft_sizes) / len(fft_sizes)


def reimpl_loss(pred, target):
    return torch.mean((pred - target) ** 2) + MRSTFT_WEIGHT * mrstft(pred, target)


class _CycleWidths:
    """Stands in for ``random`` in NAM's slimmable mixin: ratios (i + 0.5) / n in turn, so
    consecutive steps run widths 1..n once each, as the nam_dsp side does."""

    def __init__(self, n):
        self.n, self.i = n, 0

    def uniform(self, a, b):
        v = a + (b - a) * ((self.i % self.n) + 0.5) / self.n
        self.i += 1
        return v


def build_nam(slimmable, lr):
    """NAM's own LightningModule (WaveNet + loss + Adam), or raise ImportError."""
    import nam
    from nam.train.lightning_module import LightningModule
    layer = json.loads(json.dumps(NAM_LAYER_CONFIG))
    if slimmable:
        layer["slimmable"] = json.loads(json.dumps(NAM_SLIMMABLE))
        from nam.models.wavenet import _slimmable
        _slimmable._random = _CycleWidths(CHANNELS)
    lm = LightningModule.init_from_config({
        "net": {"name": "WaveNet",
                "config": {"layers_configs": [layer], "head_scale": HEAD_SCALE}},
        "loss": {"mrstft_weight": MRSTFT_WEIGHT},  # NAM's default: MSE + 2e-4 MRSTFT
        "optimizer": {"lr": lr},
        "lr_scheduler": None,
    })
    opt = lm.configure_optimizers()  # torch.optim.Adam(lm.parameters(), lr=lr)
    forward = lambda x: lm.net(x, pad_start=False)  # as NAM's _shared_step calls it
    loss = lambda x, y: lm.training_step((x, y), 0)  # NAM's forward + weighted loss dict
    info = {"peer": "nam", "nam": getattr(nam, "__version__", "unknown"),
            "nam_slimmable": bool(slimmable)}
    return lm, forward, loss, opt, int(lm.net.receptive_field), info


def build(force_reimpl, slimmable, lr):
    info = {}
    if not force_reimpl:
        try:
            return build_nam(slimmable, lr)
        except ImportError as e:
            info["nam_unavailable"] = f"{type(e).__name__}: {e}"
    if slimmable:
        raise SystemExit("--slimmable needs neural-amp-modeler (NAM's slimmable WaveNet)")
    model = PaperWaveNet()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    info["peer"] = "pytorch-reimplementation"
    return model, model, (lambda x, y: reimpl_loss(model(x), y)), opt, model.receptive_field, info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reimplementation", action="store_true",
                    help="use the plain PyTorch network even if neural-amp-modeler is installed")
    ap.add_argument("--slimmable", action="store_true",
                    help="NAM's slimmable WaveNet (allowed channels 1..8), widths 1..8 in turn")
    ap.add_argument("--check", action="store_true",
                    help="sanity check instead of timing: output shape, loss over 20 steps at lr 4e-3")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model, forward, loss_fn, opt, rf, info = build(a.reimplementation, a.slimmable,
                                                   4e-3 if a.check else a.lr)
    model.train()
    g = torch.Generator().manual_seed(a.seed)
    x = 0.1 * torch.randn(BATCH, rf - 1 + SEGMENT, generator=g)
    y = 0.1 * torch.randn(BATCH, SEGMENT, generator=g)
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.no_grad():
        shape = tuple(forward(x).shape)
    if shape != tuple(y.shape):
        raise SystemExit(f"forward output {shape}, expected {tuple(y.shape)}")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(x, y)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return float(loss.detach())

    res = dict(info, torch=torch.__version__, threads=a.threads, batch=BATCH, segment=SEGMENT,
               receptive_field=rf, parameters=sum(p.numel() for p in params), dtype="float32")
    if a.slimmable:
        a.repeats = CHANNELS * max(1, -(-a.repeats // CHANNELS))  # whole cycles of widths 1..8
        a.warmup = CHANNELS * max(1, -(-a.warmup // CHANNELS))
    if a.check:
        res["output_shape"] = list(shape)
        losses = [step() for _ in range(20)]
        res["check_losses"] = [round(v, 6) for v in losses]
        res["loss_decreased"] = losses[-1] < losses[0]
        print(json.dumps(res))
        return res
    for _ in range(a.warmup):
        step()
    times, cpu, losses = [], [], []
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        losses.append(step())
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    n = BATCH * SEGMENT * len(times)
    res.update(
        samples_per_second=round(n / sum(times)),
        seconds_per_step=round(statistics.median(times), 4),
        samples_per_cpu_second=round(n / sum(cpu)),
        repeats=a.repeats,
        loss_first=round(losses[0], 6), loss_last=round(losses[-1], 6),
        load_average_1min=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        python=sys.version.split()[0],
    )
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
