from __future__ import annotations

import pytest
import torch

from boneage.models import SeedCNN, TimmSexRegressor, create_model, list_models


def test_seed_cnn_shape_and_no_sex_input():
    model = create_model("seed-cnn").eval()
    assert isinstance(model, SeedCNN) and not model.uses_sex
    images = torch.randn(2, 1, 224, 224)
    out = model(images, torch.tensor([0.0, 1.0]))
    assert out.shape == (2,)
    torch.testing.assert_close(out, model(images, torch.tensor([1.0, 0.0])))


def test_timm_model_uses_sex():
    torch.manual_seed(0)
    model = create_model("timm-sex", backbone="mobilenetv3_small_050").eval()
    assert isinstance(model, TimmSexRegressor) and model.uses_sex
    images = torch.randn(2, 1, 96, 96)
    female = model(images, torch.zeros(2))
    male = model(images, torch.ones(2))
    assert female.shape == (2,)
    assert not torch.allclose(female, male), "sex must change the prediction"


def test_outputs_are_in_months_via_stored_label_statistics():
    model = create_model("seed-cnn", input_size=32, target_mean=100.0, target_std=10.0).eval()
    images = torch.randn(1, 1, 32, 32)
    z = model.forward_standardised(images, torch.zeros(1))
    torch.testing.assert_close(model(images, torch.zeros(1)), z * 10.0 + 100.0)
    assert "target_mean" in model.state_dict()


def test_registry():
    assert {"seed-cnn", "efficientnet-b0-sex", "mobilenetv3-sex"} <= set(list_models())
    with pytest.raises(KeyError, match="Unknown model"):
        create_model("resnet-9000")
