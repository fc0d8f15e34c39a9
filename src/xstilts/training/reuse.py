"""One training encoder per process on the compiled GPU path, reused by every training stage.

torch.compile's code and the CUDA graphs it records hold the encoder's parameters by address: a new encoder
object (a deep copy of the parent's, or one loaded from disk) has new addresses, so every stage would record its
graphs again, and a long grid of stages crosses inductor's re-recording limit (cudagraph_unexpected_rerecord_limit,
after which a function runs eager for good, without a word). Here the process keeps one module to train in and
copies each stage's starting weights into its parameters (in place: the addresses stay), and keeps the last
trained weights apart in a second module (children and evaluations read them while the first trains again)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

_NOT_ARCHITECTURE = {"_name_or_path", "name_or_path", "architectures", "transformers_version", "torch_dtype", "dtype"}


def same_architecture(a: nn.Module, b: nn.Module) -> bool:
    """Whether `b`'s weights can be copied into `a` and make `a` compute what `b` computes: the same class, the
    same configuration (where it has one; names and versions aside) and the same tensors, shapes and dtypes."""
    if type(a) is not type(b):
        return False
    configs = [getattr(m, "config", None) for m in (a, b)]
    if all(hasattr(c, "to_dict") for c in configs):
        own, other = ({k: v for k, v in c.to_dict().items() if k not in _NOT_ARCHITECTURE} for c in configs)
        if own != other:
            return False
    layout = [[(name, t.shape, t.dtype) for name, t in m.state_dict().items()] for m in (a, b)]
    return layout[0] == layout[1]


@torch.no_grad()
def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """`source`'s parameters and buffers into `target`'s own tensors, in place (across devices)."""
    target.load_state_dict(source.state_dict())  # load_state_dict copies into the existing tensors


@dataclass
class EncoderSlots:
    """The process's training encoder (`working`, the one that is compiled) and the last trained weights held
    apart (`held`)."""

    working: nn.Module | None = None
    held: nn.Module | None = None

    def start(self, encoder: nn.Module) -> nn.Module:
        """The module a training stage trains, holding `encoder`'s weights, every parameter trainable (as a loaded
        encoder comes): the working module with the weights copied in, where the architecture matches; else
        `encoder` itself becomes the working module (a copy, if it is the held one)."""
        if self.working is not None and same_architecture(self.working, encoder):
            if encoder is not self.working:
                copy_weights(encoder, self.working)
        else:
            self.working = copy.deepcopy(encoder) if encoder is self.held else encoder
        for param in self.working.parameters():
            param.requires_grad_(True)
        return self.working

    def hold(self, trained: nn.Module) -> nn.Module:
        """The trained weights kept apart from the working module, for the stages that read them next: copied
        into the previously held module where the architecture matches (no new allocation), else a copy."""
        if trained is not self.working:
            self.held = trained
        elif self.held is not None and same_architecture(self.held, trained):
            copy_weights(trained, self.held)
            for name, param in self.held.named_parameters():  # which tensors trained (the checkpoint's frozen)
                param.requires_grad_(trained.get_parameter(name).requires_grad)
        else:
            self.held = copy.deepcopy(trained)
        return self.held
