"""Models for test_onnx_export.py, in a module of their own so that a pickled whole
module can be unpickled by the exporter (pickle stores the class by module and name)."""
import torch
from torch import nn


class TinyNet(nn.Module):
    """A small convolutional classifier: 3x8x8 images to 2 logits."""

    def __init__(self, num_classes=2):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
        self.head = nn.Linear(4, num_classes)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.head(x.mean(dim=(2, 3)))


def build_model():
    """The factory the state-dict tests name: "onnx_test_models:build_model"."""
    return TinyNet()


def build_wider():
    """A model whose layers do not fit TinyNet's state dict."""
    return TinyNet(num_classes=5)


def build_broken():
    raise RuntimeError("the factory could not find its config")


def build_not_a_module():
    return {"not": "a module"}


NOT_CALLABLE = 42


class TwoInputNet(nn.Module):
    """A model whose forward needs two tensors, which the exporter cannot feed."""

    def __init__(self):
        super().__init__()
        self.net = TinyNet()

    def forward(self, x, mask):
        return self.net(x * mask)


def build_two_input():
    return TwoInputNet()
