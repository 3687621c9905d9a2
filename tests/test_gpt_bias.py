"""The bias-free GPT (model.bias=false, nanoGPT's default): no biases anywhere, and it learns."""

import torch
import torch.nn.functional as F

from archtrain.models.attention import GPT
from archtrain.models.blocks import TransformerBlock


def test_a_bias_free_gpt_has_no_bias_in_its_linear_maps_and_layer_norms():
    biased, free = (GPT(20, 16, num_layers=2, num_heads=2, d_model=32, bias=bias) for bias in (True, False))
    assert not [name for name, _ in free.named_parameters() if name.endswith("bias")]
    removed = sum(p.numel() for name, p in biased.named_parameters() if name.endswith("bias"))
    assert sum(p.numel() for p in free.parameters()) == sum(p.numel() for p in biased.parameters()) - removed
    experts = TransformerBlock(32, 2, moe_experts=2, bias=False)
    assert not [name for name, _ in experts.named_parameters() if name.endswith("bias")]


def test_a_bias_free_cross_attention_block_runs():
    block = TransformerBlock(16, 2, cross=True, bias=False)
    assert block(torch.randn(2, 5, 16), memory=torch.randn(2, 7, 16)).shape == (2, 5, 16)


def test_a_bias_free_gpt_learns_a_repeating_text(one_thread):
    torch.manual_seed(0)
    net = GPT(10, 16, num_layers=2, num_heads=2, d_model=32, bias=False)
    ids = torch.arange(17).remainder(10).repeat(4, 1)  # 0 1 2 ... 9 0 1 ...: each next token is certain
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(net(ids[:, :-1]).flatten(0, 1), ids[:, 1:].flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[0] > 2.0 and losses[-1] < 0.2  # from near uniform (ln 10 = 2.3) to nearly certain
    assert net.sample(ids[:1, :3], 13, temperature=0.1)[0].tolist() == ids[0, :16].tolist()
