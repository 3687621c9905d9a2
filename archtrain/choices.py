"""The names that common knobs accept, kept free of torch so that the CLI can check them before it
loads anything; the registries that act on them (models/blocks.py, models/init.py, ...) are tested to
offer exactly these."""

KNOB_CHOICES = {
    "activation": ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "silu"),
    "init": ("default", "xavier", "kaiming", "orthogonal"),
    "positions": ("sinusoidal", "learned", "rotary"),
    "cell": ("rnn", "lstm", "gru"),
    "nonlinearity": ("tanh", "relu"),  # of an Elman RNN's cell
    "loss": ("non_saturating", "minimax", "wasserstein"),  # the adversarial tasks' loss pair
    "profiler": ("simple", "advanced"),  # debug.profiler
    "criterion": ("contrastive", "triplet"),  # the siamese task's metric-learning loss
    "momentum_schedule": ("constant", "cosine"),  # the EMA targets' decay (MoCo, BYOL)
    "quantization": ("dynamic", "static", "qat"),  # transform.quantize
    "structure": ("unstructured", "channels"),  # transform.prune
    "scope": ("global", "layer"),
    "pruning": ("oneshot", "gradual", "lottery"),  # when transform.prune prunes
    "solver": ("dopri5", "bosh3", "adaptive_heun", "dopri8", "euler", "midpoint", "rk4"),  # neural ODEs' torchdiffeq
    "captions": ("full", "varied"),  # data=captioned_shapes: archtrain/data/captions.py CAPTIONS
    "text_encoder": ("transformer", "words"),  # model=clip's text side
}
