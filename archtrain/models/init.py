"""Weight initialization schemes, applied after a model is built (model.init=...)."""

from torch import nn

SCHEMES = {
    "xavier": nn.init.xavier_uniform_,  # Glorot & Bengio, 2010
    "kaiming": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),  # He et al., 2015
    "orthogonal": nn.init.orthogonal_,  # Saxe et al., 2014
}
LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.RNNBase)


def initialize(net: nn.Module, scheme: str) -> None:
    """Re-initialize every weight matrix and kernel with `scheme` and zero the biases;
    embeddings and norms keep their own initialization. 'default' leaves the model as built."""
    if scheme == "default":
        return
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init '{scheme}'; choose from default, {', '.join(SCHEMES)}")
    for module in net.modules():
        if isinstance(module, LAYERS):
            for name, param in module.named_parameters(recurse=False):
                if param.ndim >= 2:
                    SCHEMES[scheme](param)
                elif name.startswith("bias"):
                    nn.init.zeros_(param)
