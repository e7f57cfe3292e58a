"""The paper's PyTorch networks, built for :class:`~.adapter.TorchModel`: App. A.2's CNN
(:func:`paper_cnn`) and ResNet18 (:func:`resnet18`, torchvision's where it imports)."""

from __future__ import annotations

import torch
from torch import nn

_ACTS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}


def paper_cnn(activation: str = "tanh", in_shape: tuple[int, int, int] = (3, 32, 32)) -> nn.Module:
    """App. A.2, Table 3: conv(3→32, 3×3, pad 1), σ, maxpool 2, conv(32→32, 3×3, pad 1), σ,
    maxpool 2, flatten, Linear(32·(H/4)·(W/4), 1, bias=False) — 2048 on 32×32 CIFAR images."""
    if activation not in _ACTS:
        raise ValueError(f"activation={activation!r} is unknown: use one of {tuple(_ACTS)}")
    c, h, w = in_shape
    if h % 4 or w % 4:
        raise ValueError(f"in_shape={in_shape}: height and width must be multiples of 4 (two 2× poolings)")
    act = _ACTS[activation]
    net = nn.Sequential(
        nn.Conv2d(c, 32, kernel_size=3, padding=1),
        act(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 32, kernel_size=3, padding=1),
        act(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (h // 4) * (w // 4), 1, bias=False),
    )
    net.architecture = f"paper_cnn[{activation}]"  # type: ignore[assignment]
    net.architecture_source = "linnet (App. A.2, Table 3)"  # type: ignore[assignment]
    return net


class _BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inp: int, out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class _ResNet18(nn.Module):
    """torchvision.models.resnet18's layout (ImageNet variant: 7×7 stride-2 stem and max-pool),
    same parameter names and default initialisation."""

    def __init__(self, num_outputs: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans, inp = (64, 128, 256, 512), 64
        for i, c in enumerate(chans):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(_BasicBlock(inp, c, stride), _BasicBlock(c, c)))
            inp = c
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_outputs)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_outputs: int = 1) -> nn.Module:
    """ResNet18 as in the paper (§3.2: "the default architecture implemented in PyTorch"):
    ``torchvision.models.resnet18(num_classes=num_outputs)`` when torchvision imports, else an
    equivalent module defined here (same ImageNet-variant layout, names and init).
    ``net.architecture_source`` says which; it goes to the trajectory's config."""
    try:
        from torchvision.models import resnet18 as tv_resnet18
    except ImportError:
        net: nn.Module = _ResNet18(num_outputs)
        net.architecture_source = "linnet (torchvision-equivalent, ImageNet variant)"  # type: ignore[assignment]
    else:
        net = tv_resnet18(num_classes=num_outputs)
        net.architecture_source = "torchvision"  # type: ignore[assignment]
    net.architecture = "resnet18"  # type: ignore[assignment]
    return net


__all__ = ["paper_cnn", "resnet18"]
