"""Attention models: positions, the GPT key/value cache, beam search, ViT and mixture-of-experts blocks."""

import csv
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import QUICK, train
from torch import nn

from archtrain.data.pairs import BOS, EOS, PAD, DigitPairs
from archtrain.errors import ArchtrainError
from archtrain.models.attention import GPT, Transformer
from archtrain.models.blocks import MoEFeedForward, PositionalEncoding, Rotary, load_balancing_loss
from archtrain.models.vit import ViT
from archtrain.tasks.language_model import sample_by_recomputing

POSITIONS = ["learned", "sinusoidal", "rotary"]


# --- positions ---------------------------------------------------------------------------------


def test_rotary_scores_depend_only_on_the_offset_between_positions():
    rotary = Rotary(head_dim=8, length=32)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    scores = [(rotary(q, m) * rotary(k, n)).sum() for m, n in [(3, 1), (13, 11), (30, 28)]]
    torch.testing.assert_close(scores[0], scores[1])
    torch.testing.assert_close(scores[0], scores[2])
    assert not torch.allclose(scores[0], (rotary(q, 3) * rotary(k, 2)).sum())


def test_additive_positions_start_at_the_offset():
    positions = PositionalEncoding("sinusoidal", 10, 16, num_heads=4)
    x = torch.zeros(2, 10, 16)
    torch.testing.assert_close(positions(x[:, :3], offset=7), positions(x)[:, 7:])
    assert PositionalEncoding("rotary", 10, 16, num_heads=4)(x) is x


def test_an_unknown_kind_of_positions_is_a_clear_error():
    with pytest.raises(ArchtrainError, match="unknown positions 'absolute'; choose from sinusoidal"):
        PositionalEncoding("absolute", 10, 16, num_heads=4)


# --- GPT: generation with a key/value cache -----------------------------------------------------


def small_gpt(positions: str) -> GPT:
    torch.manual_seed(0)
    net = GPT(vocab_size=30, seq_len=16, num_layers=2, num_heads=2, d_model=32, positions=positions).eval()
    for p in net.parameters():
        if p.ndim >= 2:  # larger weights than GPT's init, so the logits differ between tokens
            nn.init.normal_(p, std=0.3)
    return net


@pytest.mark.parametrize("positions", POSITIONS)
@pytest.mark.parametrize("temperature, top_k", [(1.0, 1), (0.8, 5), (1.0, None)])
def test_cached_generation_equals_recomputing_every_step(positions, temperature, top_k):
    net, prompt = small_gpt(positions), torch.randint(0, 30, (3, 5), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(2)
    cached = net.sample(prompt, 40, temperature, top_k)  # 45 tokens: well past the context of 16
    torch.manual_seed(2)
    recomputed = sample_by_recomputing(net, prompt, 40, net.seq_len, temperature, top_k)
    assert cached.shape == (3, 45)
    assert torch.equal(cached[:, :5], prompt)
    assert torch.equal(cached, recomputed)
    if top_k != 1:
        assert len(set(cached[:, 5:].flatten().tolist())) > 3  # really sampled, not one repeated token


def test_generation_feeds_one_token_per_step_until_the_context_is_full():
    net, steps = small_gpt("learned"), []
    net.token.register_forward_hook(lambda module, args, out: steps.append(args[0].shape[1]))
    net.sample(torch.zeros(1, 5, dtype=torch.long), 40, top_k=1)
    # The prompt once; single tokens until 16 are cached; then the window moves and is rebuilt.
    assert steps == [5] + [1] * 11 + [16] * 28


# --- Transformer: greedy and beam search ---------------------------------------------------------


def random_transformer(positions: str = "sinusoidal", eos_id: int | None = None) -> Transformer:
    torch.manual_seed(0)
    net = Transformer(vocab_size=14, max_len=11, dropout=0.0, positions=positions, eos_id=eos_id).eval()
    for p in net.parameters():
        if p.ndim >= 2:  # sharper, source-dependent next-token distributions
            nn.init.normal_(p, std=0.5)
    return net


def sources(rows: int) -> torch.Tensor:
    return torch.randint(3, 14, (rows, 8), generator=torch.Generator().manual_seed(3))


def recomputed_greedy(net: Transformer, src: torch.Tensor, steps: int) -> torch.Tensor:
    """Greedy decoding that runs the whole decoder on the whole prefix at every step."""
    out = torch.full((len(src), 1), BOS)
    for _ in range(steps):
        out = torch.cat([out, net(src, out)[:, -1].argmax(-1, keepdim=True)], dim=1)
    return out[:, 1:]


def log_probability(net: Transformer, src: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
    """log p(seq | src) under teacher forcing, one value per row."""
    tgt_in = torch.cat([torch.full((len(src), 1), BOS), seq[:, :-1]], dim=1)
    return F.log_softmax(net(src, tgt_in), dim=-1).gather(2, seq.unsqueeze(2)).squeeze(2).sum(dim=1)


@pytest.mark.parametrize("positions", POSITIONS)
def test_a_beam_of_one_is_greedy_decoding(positions):
    net, src = random_transformer(positions), sources(32)
    with torch.no_grad():
        greedy = recomputed_greedy(net, src, 11)
    assert torch.equal(net.decode(src, BOS, 11), greedy)


def after_first_end(decoded: torch.Tensor) -> torch.Tensor:
    """True at the positions that come after a row's first </s>."""
    return F.pad((decoded == EOS).cumsum(dim=1)[:, :-1], (1, 0)) > 0


def test_decoding_stops_at_the_end_token_and_pads_after_it():
    net, src = random_transformer(eos_id=EOS), sources(64)
    with torch.no_grad():
        greedy = recomputed_greedy(net, src, 11)
    for beam_size in (1, 3):
        decoded = net.decode(src, BOS, 11, beam_size=beam_size)
        after = after_first_end(decoded)
        assert after.any(), "no hypothesis ended early; the test needs some that do"
        assert (decoded[after] == PAD).all()
    decoded = net.decode(src, BOS, 11)
    assert torch.equal(after_first_end(decoded), after_first_end(greedy))
    assert (decoded == greedy)[~after_first_end(greedy)].all()


def test_beam_search_finds_sequences_at_least_as_likely_as_greedy():
    net, src = random_transformer(), sources(64)
    greedy = net.decode(src, BOS, 11)
    beam = net.decode(src, BOS, 11, beam_size=4, length_penalty=0.0)
    with torch.no_grad():
        gain = log_probability(net, src, beam) - log_probability(net, src, greedy)
    # A beam can prune the greedy path, so it is not better for every source; it is for most.
    assert (gain > 1e-3).sum() >= 10 and (gain < -1e-4).sum() <= 3
    assert gain.mean() > 0.5


def test_a_beam_as_wide_as_every_prefix_finds_the_most_likely_sequence():
    net, src, vocab = random_transformer(), sources(4), 14
    every = torch.tensor(list(itertools.product(range(vocab), repeat=3)))
    beam = net.decode(src, BOS, 3, beam_size=vocab**2, length_penalty=0.0)
    with torch.no_grad():
        for row in range(len(src)):
            scores = log_probability(net, src[row].expand(len(every), -1), every)
            assert torch.equal(beam[row], every[scores.argmax()])


def exact_match(net: Transformer, src: torch.Tensor, tgt_out: torch.Tensor, beam_size: int) -> float:
    decoded = net.decode(src, BOS, tgt_out.shape[1], beam_size=beam_size)
    return ((decoded == tgt_out) | (tgt_out == PAD)).all(dim=1).float().mean().item()


def test_beam_search_solves_a_toy_task_at_least_as_well_as_greedy():
    data = DigitPairs("reverse", min_len=4, max_len=6, train_size=3000, eval_size=300, batch_size=64)
    splits, spec = data.load()
    torch.manual_seed(0)
    net = Transformer(spec.vocab_size, spec.max_len, d_model=32, dropout=0.0, pad_id=PAD, eos_id=EOS)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    src, tgt_in, tgt_out = splits["train"]
    for _ in range(600):
        rows = torch.randint(0, len(src), (64,))
        loss = F.cross_entropy(net(src[rows], tgt_in[rows]).flatten(0, 1), tgt_out[rows].flatten(), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    test_src, _, test_out = splits["test"]
    greedy, beam = exact_match(net, test_src, test_out, 1), exact_match(net, test_src, test_out, 4)
    assert beam >= 0.9 and beam >= greedy


# --- mixture of experts --------------------------------------------------------------------------


def test_each_token_goes_to_its_top_k_experts_with_gates_that_sum_to_one():
    torch.manual_seed(0)
    moe = MoEFeedForward(d_model=16, num_experts=4, top_k=2)
    tokens = torch.randn(50, 16)
    probs, chosen, gates = moe.route(tokens)
    assert torch.equal(chosen.sort(1).values, probs.topk(2).indices.sort(1).values)
    torch.testing.assert_close(gates.sum(1), torch.ones(50))
    torch.testing.assert_close(gates[:, 0] / gates[:, 1], probs.gather(1, chosen)[:, 0] / probs.gather(1, chosen)[:, 1])
    expected = torch.stack(
        [sum(g * moe.experts[e](t) for g, e in zip(gates[i], chosen[i].tolist())) for i, t in enumerate(tokens)]
    )
    torch.testing.assert_close(moe(tokens.view(5, 10, 16)), expected.view(5, 10, 16))


def test_the_balancing_loss_is_one_for_uniform_routing_and_larger_when_routing_collapses():
    uniform = torch.full((100, 4), 0.25)
    balanced = torch.arange(100).remainder(4).unsqueeze(1)  # experts used in turn
    assert load_balancing_loss(uniform, balanced).item() == pytest.approx(1.0)
    collapsed = torch.tensor([[0.97, 0.01, 0.01, 0.01]]).expand(100, -1)
    assert load_balancing_loss(collapsed, torch.zeros(100, 1, dtype=torch.long)).item() == pytest.approx(4 * 0.97)
    moe = MoEFeedForward(d_model=8, num_experts=4, top_k=2, aux_weight=0.5)
    nn.init.zeros_(moe.router.weight)  # every expert equally likely
    moe(torch.randn(20, 8))
    assert moe.balance.item() == pytest.approx(1.0)
    assert moe.auxiliary_loss().item() == pytest.approx(0.5)
    with torch.no_grad():
        moe.router.weight[0] = 5.0  # expert 0 wins for positive inputs
    moe(torch.rand(20, 8))
    assert moe.balance.item() > 1.5


def test_gpt_with_experts_trains_and_logs_the_auxiliary_loss(tmp_path):
    summary = train(
        tmp_path / "moe",
        "model=gpt",
        "model.moe_experts=4",
        "model.num_layers=2",
        "model.d_model=64",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=100",
        "trainer.limit_val_batches=10",
        "trainer.limit_test_batches=10",
        "task.sample_length=20",
    )
    assert summary["status"] == "completed", summary["error"]
    assert summary["test"]["test/loss"] < math.log(103) - 1.0  # uniform over the characters: ln 103
    rows = list(csv.DictReader(open(tmp_path / "moe" / "metrics.csv")))
    aux = [float(r["train/aux_loss"]) for r in rows if r.get("train/aux_loss")]
    assert len(aux) == 1 and 0.01 < aux[0] < 0.04  # 2 layers x 0.01 x a balance near 1


# --- ViT -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels, size, patch", [(1, 8, 2), (1, 28, 4), (3, 32, 4), (3, 32, 8)])
def test_vit_reads_images_of_several_sizes(channels, size, patch):
    net = ViT(in_channels=channels, image_size=size, num_classes=10, patch_size=patch, d_model=32, num_layers=1)
    assert net(torch.rand(2, channels, size, size)).shape == (2, 10)
    assert net.positions.table.shape == ((size // patch) ** 2 + 1, 32)


def test_a_patch_size_that_does_not_divide_the_image_is_a_clear_error(tmp_path):
    summary = train(tmp_path / "run", "model=vit", "model.patch_size=3", *QUICK)
    assert summary["exit_code"] == 2
    assert "model.patch_size=3 does not divide the 8x8 images" in summary["error"]


@pytest.mark.slow
def test_vit_reaches_95_percent_on_digits(tmp_path):
    assert train(tmp_path / "vit", "model=vit")["test"]["test/acc"] >= 0.95


def test_vit_learns_digits_in_five_epochs(tmp_path):
    assert train(tmp_path / "vit", "model=vit", "trainer.max_epochs=5")["test"]["test/acc"] >= 0.85
