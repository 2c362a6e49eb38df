"""Print the worst finite-difference relative error of every gradient check (float64).

    python3 bench/train_gradcheck.py > bench/results/training/gradient_check.txt

Same models, signals and 5-point stencils as tests/test_training_gradients.py (bar: 1e-6).
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
try:
    import nam_dsp.training  # noqa: F401
except ImportError:
    sys.path.insert(0, ROOT)
    import nam_dsp
    nam_dsp.__path__.append(ROOT)

from test_training_gradients import *  # noqa: E402,F401,F403

for case in CASES:
  for width in [1,4,8]:
    act, gating = CASES[case]
    net = GradNet(small_slimmable(act, gating)); rng = np.random.default_rng(width)
    x = rng.standard_normal((3, net.receptive_field + 24)); t = rng.standard_normal((3, 25))
    f=lambda th: 0.5*np.sum((net.forward(x,width,th,keep=False)[0]-t)**2)
    y,c=net.forward(x,width); g=net.backward(c,y-t)
    w=directional_check(net,f,g,x,width,rng,kinks=act.name!="Tanh")
    print(f"model {case:9s} w{width}: worst {max(w.values()):.1e} over {len(w)} groups")
for name,fn in LOSS_CASES.items():
    rng=np.random.default_rng(3); n=2600 if name in ("mrstft","nam") else 300
    t=rng.standard_normal((2,n)); p=t+0.3*rng.standard_normal((2,n)); v,grad=fn(p,t); worst=0
    for _ in range(3):
        d=rng.standard_normal(p.shape); d/=np.linalg.norm(d); eps=1e-4; f=lambda q: fn(q,t)[0]
        fd=(8*(f(p+eps*d)-f(p-eps*d))-(f(p+2*eps*d)-f(p-2*eps*d)))/(12*eps); an=float(np.sum(grad*d))
        worst=max(worst,abs(fd-an)/max(abs(an),abs(fd)))
    print(f"loss {name:8s}: worst {worst:.1e}")
