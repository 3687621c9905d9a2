"""The vision zoo: every CNN builds for small and large, grey and colour images and fits a batch;
its knobs change the network the way its paper says."""

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from archtrain.catalog import CONF
from archtrain.data.spec import DataSpec
from archtrain.errors import ArchtrainError
from archtrain.models import accepted_arguments, build_net, count_parameters
from archtrain.models.blocks import DropPath
from archtrain.models.vision import efficientnet
from archtrain.models.vision.conv_blocks import CBAM, SMALLEST_MAP, ImageClassifier, Residual, SqueezeExcite

# Small widths keep each build-and-fit under a second.
SMALL = {
    "lenet5": {},
    "alexnet": {"width": 16, "hidden": 32},
    "vgg": {"width": 8, "hidden": 32},
    "inception": {"width": 0.125, "modules": [1, 1, 1]},
    "resnet": {"width": 8},
    "densenet": {"growth_rate": 8, "blocks": [2, 2]},
    "mobilenet": {"width": 0.25, "depth": 0.3},
    "efficientnet": {"width": 0.25, "depth": 0.25},
    "squeezenet": {"width": 0.25},
    "convnext": {"width": 8, "depths": [1, 1, 1, 1]},
    "unet": {"width": 8},
}
RESIDUAL = {"squeezenet": {"bypass": True}, "efficientnet": {"depth": 0.5}}  # knobs that give residual blocks
IMAGES = {"8px-grey": (1, 8), "28px-grey": (1, 28), "32px-colour": (3, 32)}
CLASSES = 5


def model_config(name: str, **knobs):
    """A model's yaml without its defaults list, with `knobs` set."""
    cfg = OmegaConf.load(CONF / "model" / f"{name}.yaml")
    cfg.pop("defaults")
    return OmegaConf.merge(cfg, knobs)


def build(name: str, channels: int = 1, size: int = 8, **knobs) -> nn.Module:
    spec = DataSpec(in_channels=channels, image_size=size, num_classes=CLASSES)
    return build_net(model_config(name, **{**SMALL[name], "dropout": 0.0, **knobs}), spec)


def count(net: nn.Module, kind: type) -> int:
    return sum(isinstance(module, kind) for module in net.modules())


@pytest.mark.parametrize("channels, size", IMAGES.values(), ids=IMAGES)
@pytest.mark.parametrize("name", SMALL)
def test_cnn_builds_and_fits_a_fixed_batch(name, channels, size):
    torch.manual_seed(0)
    net = build(name, channels, size)
    labels = torch.arange(16) % CLASSES
    images = torch.rand(CLASSES, channels, size, size)[labels] + 0.2 * torch.randn(16, channels, size, size)
    assert net(images).shape == (16, CLASSES)
    if isinstance(net, ImageClassifier):
        assert min(net.trunk(images).shape[-2:]) >= SMALLEST_MAP, "downsampling went below the smallest map"
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = nn.functional.cross_entropy(net(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], f"loss went from {losses[0]:.3f} to {losses[-1]:.3f}"


def test_every_cnn_takes_dropout_and_those_with_residual_blocks_take_drop_path():
    for name in SMALL:
        accepted = accepted_arguments(model_config(name))
        assert "dropout" in accepted, name
        with_residuals = build(name, **RESIDUAL.get(name, {}))
        assert ("drop_path" in accepted) == (count(with_residuals, Residual) > 0), name
        if "drop_path" in accepted:
            net = build(name, drop_path=0.3, **RESIDUAL.get(name, {}))
            assert any(isinstance(m, DropPath) and m.rate > 0 for m in net.modules()), name


@pytest.mark.parametrize("depth", [11, 13, 16, 19])
def test_vgg_depth_counts_its_weight_layers(depth):
    net = build("vgg", depth=depth)
    assert count(net, nn.Linear) == 3
    assert count(net, nn.Conv2d) + count(net, nn.Linear) == depth


@pytest.mark.parametrize("depth, block_layers", [(18, 2), (34, 2), (50, 3)])
def test_resnet_depth_counts_its_weight_layers(depth, block_layers):
    net = build("resnet", depth=depth)
    blocks = [m for m in net.modules() if isinstance(m, Residual)]
    for block in blocks:
        assert count(block.branch, nn.Conv2d) == block_layers
    # the stem convolution, the blocks' convolutions and the classifier; projection shortcuts do not count
    assert 1 + block_layers * len(blocks) + count(net.head, nn.Linear) == depth


def test_efficientnet_phi_scales_depth_width_and_resolution():
    inputs = {}

    def record_input(phi):
        return lambda module, args: inputs.__setitem__(phi, args[0].shape[-1])

    nets = {phi: build("efficientnet", size=28, phi=phi, depth=0.5) for phi in (0, 1, 2)}
    for phi, net in nets.items():
        stem = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
        stem.register_forward_pre_hook(record_input(phi))
        net(torch.rand(2, 1, 28, 28))
        assert inputs[phi] == round(28 * efficientnet.GAMMA**phi)
        depthwise = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
        blocks = [math.ceil(n * 0.5 * efficientnet.ALPHA**phi) for _, _, n, _, _ in efficientnet.STAGES]
        assert len(depthwise) == sum(blocks)
    assert inputs[0] < inputs[1] < inputs[2]
    widths = {phi: next(m for m in net.modules() if isinstance(m, nn.Conv2d)).out_channels for phi, net in nets.items()}
    assert widths[0] <= widths[1] <= widths[2] and widths[0] < widths[2]
    assert count_parameters(nets[0]) < count_parameters(nets[1]) < count_parameters(nets[2])


@pytest.mark.parametrize("name", ["resnet", "mobilenet", "convnext"])
def test_attention_options_add_se_or_cbam_to_every_residual_block(name):
    plain, se, cbam = (build(name, attention=kind) for kind in ("none", "se", "cbam"))
    blocks = count(plain, Residual)
    assert count(plain, SqueezeExcite) == count(plain, CBAM) == 0
    assert count(se, SqueezeExcite) >= blocks > 0 and count(se, CBAM) == 0
    assert count(cbam, CBAM) >= blocks and count(cbam, SqueezeExcite) == 0
    assert count_parameters(plain) < count_parameters(se)
    assert count_parameters(plain) < count_parameters(cbam)


def test_resnet_dilation_keeps_the_last_stage_resolution():
    images = torch.rand(2, 3, 32, 32)
    strided, dilated = build("resnet", 3, 32), build("resnet", 3, 32, dilation=True)
    assert dilated.trunk(images).shape[-1] == 2 * strided.trunk(images).shape[-1]
    assert any(isinstance(m, nn.Conv2d) and m.dilation == (2, 2) for m in dilated.modules())
    assert count_parameters(dilated) == count_parameters(strided)


def test_unet_features_are_full_resolution():
    net = build("unet", 1, 28)
    assert net.pixel_features(torch.rand(2, 1, 28, 28)).shape == (2, SMALL["unet"]["width"], 28, 28)


@pytest.mark.parametrize(
    "name, knobs, message",
    [
        ("vgg", {"depth": 12}, "model.depth=12 is not offered"),
        ("resnet", {"attention": "transformer"}, "model.attention=transformer is not offered"),
        ("mobilenet", {"version": 1, "attention": "se"}, "apply to MobileNet version 2"),
    ],
)
def test_a_knob_value_the_model_lacks_is_a_user_error(name, knobs, message):
    with pytest.raises(ArchtrainError, match=message):
        build(name, **knobs)
