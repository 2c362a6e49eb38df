"""Our validation ESR is NAM's: re-scoring NAM's own trained slimmable model on the shared tone
with nam_dsp.training gives the figures NAM's trainer reported (../shared/data/README.md)."""

import os

import numpy as np
import pytest


import nam_dsp
from nam_dsp.training.data import load_pair
from nam_dsp.training.losses import esr_value
from nam_dsp.training.trainer import valid_predict
from nam_dsp.training.wavenet_grad import GradNet

from conftest import SHARED_DATA

TONES = str(SHARED_DATA / "tones")
MODEL = str(SHARED_DATA / "models" / "slimmable" / "nam_trainer_paper_crunch_30min.nam")
NAM_CRUNCH = {1: 0.141, 8: 0.0129}


@pytest.mark.skipif(not (os.path.isdir(TONES) and os.path.isfile(MODEL)), reason="../shared/data tones/models absent")
def test_validation_esr_of_nams_crunch_model_matches_nams_figures():
    pair = load_pair(os.path.join(TONES, "dry.flac"), os.path.join(TONES, "wet_crunch.flac"),
                     split_file=os.path.join(TONES, "split.json"), latency=0)
    net = GradNet(nam_dsp.load_spec(MODEL), np.float32)
    v0, v1 = pair.validation
    x, y = pair.dry[v0:v1], pair.wet[v0:v1][net.receptive_field - 1:]
    for width, nam in NAM_CRUNCH.items():
        assert esr_value(valid_predict(net, x, width), y) == pytest.approx(nam, abs=6e-4)
