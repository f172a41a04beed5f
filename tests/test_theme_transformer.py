"""Theme Transformer: the song generator, variations, retrieval, recurrence counting, the gated
decoder layer and the generator model."""

import pytest
import torch

import contrastkit as ck
from contrastkit.data.synthetic import make_theme_songs
from contrastkit.explore import theme_transformer as explore_tt
from contrastkit.methods import theme_transformer as tt


def test_theme_songs_seeded_shapes_and_labels():
    a, b = make_theme_songs(50, seed=3), make_theme_songs(50, seed=3)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.theme, b.theme)
    assert not torch.equal(a.tokens, make_theme_songs(50, seed=4).tokens)
    assert a.tokens.shape == (50, 40) and a.tokens.dtype == torch.long
    assert a.segments.shape == (50, 5, 8) and a.motifs.shape == (8, 8)
    assert a.form == (0, 2, 4)
    assert a.tokens.min() >= 0 and a.tokens.max() < a.n_pitches
    assert (a.segment_theme[:, [1, 3]] == -1).all()
    assert torch.equal(a.segment_theme[:, 0], a.theme)
    assert a.theme_mask.shape == (50, 40) and a.theme_mask.sum() == 50 * 3 * 8
    # the first occurrence is the motif transposed, exactly
    first = a.segments[:, 0] - a.motifs[a.theme]
    assert (first == first[:, :1]).all() and torch.equal(first[:, 0], a.shift[:, 0])
    # later occurrences: transposed, at most one note moved
    for k in (2, 4):
        diff = a.segments[:, k] - a.motifs[a.theme] - a.shift[:, k : k + 1]
        assert ((diff != 0).sum(1) <= 1).all()
    # no variation at all when p_edit = 0
    c = make_theme_songs(20, p_edit=0.0, seed=1)
    assert (tt.recurrences(c.tokens, c.segments[:, 0], max_distance=0) >= 3).all()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n": 0}, "n"),
        ({"n_themes": -1}, "n_themes"),
        ({"seg_len": 0}, "seg_len"),
        ({"form": "BCB"}, "form"),
        ({"n_pitches": 10}, "n_pitches"),
        ({"p_edit": 1.5}, "p_edit"),
    ],
)
def test_theme_songs_bad_arguments_name_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_theme_songs(**{"n": 4, **kwargs})


def test_transpose_edit_is_a_transposition_with_one_edit_at_most():
    g = torch.Generator().manual_seed(0)
    s = torch.randint(6, 18, (64, 8), generator=g)  # away from the edges: no clamping
    v = tt.transpose_edit(s, 24, max_shift=0, p_edit=0.0, generator=g)
    assert torch.equal(v, s)
    v = tt.transpose_edit(s, 24, max_shift=3, p_edit=1.0, generator=g)
    assert v.shape == s.shape and v.min() >= 0 and v.max() < 24
    assert (tt.recurrences(v, s, max_distance=1) == 1).all()
    with pytest.raises(ValueError, match="segments"):
        tt.transpose_edit(s.float(), 24)


def test_occurrences_and_recurrences():
    theme = torch.tensor([5, 7, 9, 7])
    song = torch.tensor([[5, 7, 9, 7, 0, 10, 12, 14, 12, 1, 8, 10, 13, 10, 20, 3]])
    # exact at 0, transposed by +5 at 5, transposed by +3 with one note off at 10
    assert tt.recurrences(song, theme, max_distance=0).item() == 2
    assert tt.recurrences(song, theme, max_distance=1).item() == 3
    mask = tt.occurrences(song, theme, max_distance=1)
    assert mask[0].tolist()[:10] == [True] * 4 + [False] + [True] * 4 + [False]
    # overlapping windows are not counted twice
    assert (
        tt.recurrences(torch.zeros(1, 6, dtype=torch.long), torch.zeros(4, dtype=torch.long)) == 1
    )
    with pytest.raises(ValueError, match="theme"):
        tt.recurrences(song, torch.zeros(2, 30, dtype=torch.long))
    with pytest.raises(ValueError, match="max_distance"):
        tt.occurrences(song, theme, max_distance=-1)


def test_pitch_histogram_and_retrieve_themes():
    s = torch.randint(0, 24, (3, 5, 8), generator=torch.Generator().manual_seed(0))
    h = tt.pitch_histogram(s, 24)
    assert h.shape == (3, 5, 24) and torch.allclose(h.sum(-1), torch.ones(3, 5))
    # two songs, four segments; the theme is the direction repeated within each song
    e = torch.eye(4)
    z = torch.stack([e[[0, 1, 0, 2]], e[[3, 3, 1, 2]]])
    labels, is_theme = tt.retrieve_themes(z, k=4, seed=0)
    assert labels.shape == (2, 4)
    assert is_theme.tolist() == [[True, False, True, False], [True, True, False, False]]
    with pytest.raises(ValueError, match="z"):
        tt.retrieve_themes(torch.randn(5, 4), k=2)


def test_segment_encoder_is_invariant_to_transposition_away_from_the_edges():
    torch.manual_seed(0)
    enc = tt.SegmentEncoder(24, dim=16)
    s = torch.randint(8, 14, (10, 8), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(enc(s), enc(s + 3), atol=1e-5)
    assert enc(s).shape == (10, 16)


def test_retrieval_loss_is_finite_and_goes_down():
    data = make_theme_songs(100, seed=0).segments.reshape(-1, 8)
    torch.manual_seed(0)
    model = tt.ThemeRetrieval(24, dim=16)
    hist = ck.fit(model, data, steps=30, batch_size=64, lr=3e-3, seed=0, progress=False)
    assert all(torch.isfinite(torch.tensor(hist.loss)))
    assert hist.loss[-1] < hist.loss[0]
    assert ck.embed(model, data[:7]).shape == (7, 16)


def test_gated_layer_closed_gate_ignores_the_theme_and_is_causal():
    torch.manual_seed(0)
    layer = tt.GatedDecoderLayer(16, heads=2).eval()
    h, memory = torch.randn(2, 6, 16), torch.randn(2, 4, 16)
    closed = torch.zeros(2, 6)
    assert torch.allclose(layer(h, memory, closed), layer(h, None, None), atol=1e-6)
    opened = torch.ones(2, 6)
    assert not torch.allclose(layer(h, memory, opened), layer(h, None, None))
    h2 = h.clone()
    h2[:, 4:] += 1.0  # the future changes, the past does not
    assert torch.allclose(
        layer(h, memory, opened)[:, :4], layer(h2, memory, opened)[:, :4], atol=1e-6
    )


def test_theme_transformer_learns_generates_and_only_the_conditioned_one_reads_the_theme():
    d = make_theme_songs(64, seed=0)
    theme, gate = d.segments[:, 0], d.theme_mask.long()
    for conditioned in (True, False):
        torch.manual_seed(0)
        m = tt.ThemeTransformer(24, 40, 8, dim=16, layers=1, heads=2, conditioned=conditioned)
        hist = ck.fit(m, (theme, d.tokens, gate), steps=20, batch_size=32, lr=3e-3, progress=False)
        assert hist.loss[-1] < hist.loss[0]
        m.eval()
        other = theme.roll(1, 0)
        with torch.no_grad():
            same = torch.allclose(
                m.logits(theme, m._inputs(d.tokens), gate),
                m.logits(other, m._inputs(d.tokens), gate),
            )
        assert same != conditioned
        songs, mask, rate = explore_tt.sample_view(
            m, theme[:5], d.tokens[:5, :8], gate[:5], 0.8, seed=1
        )
        assert songs.shape == (5, 40) and torch.equal(songs[:, :8], d.tokens[:5, :8])
        assert mask[:, :8].all() and 0.0 <= rate <= 1.0
        again = explore_tt.sample_view(m, theme[:5], d.tokens[:5, :8], gate[:5], 0.8, seed=1)[0]
        assert torch.equal(songs, again)  # a fixed seed: the same songs
        greedy = m.generate(theme[:2], d.tokens[:2, :8], gate[:2], temperature=0)
        assert greedy.shape == (2, 40)
