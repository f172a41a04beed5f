"""captioned shapes: seeded, consistent with the images' factors, tokenizer round trips, noise."""

import pytest
import torch

from contrastkit.data import captions as cap
from contrastkit.data.shapes import SHAPE_NAMES, make_shapes


@pytest.fixture(scope="module")
def data():
    return cap.make_captioned_shapes(300, image_size=16, seed=3)


def test_seeded(data):
    again = cap.make_captioned_shapes(300, image_size=16, seed=3)
    assert torch.equal(again.x, data.x) and torch.equal(again.tokens, data.tokens)
    assert again.texts == data.texts
    other = cap.make_captioned_shapes(300, image_size=16, seed=4)
    assert not torch.equal(other.tokens, data.tokens)


def test_images_are_make_shapes_images(data):
    ref = make_shapes(300, 16, seed=3)
    assert torch.equal(data.x, ref.x) and torch.equal(data.y, ref.y)
    assert data.classes == SHAPE_NAMES


def test_shapes_and_types(data):
    n = len(data)
    assert data.tokens.shape[0] == n and data.tokens.dtype == torch.long
    assert len(data.texts) == n and data.matched.shape == (n,) and data.matched.all()
    assert int(data.tokens.max()) < len(data.vocab) and int(data.tokens.min()) >= 0
    for name, words in (
        ("colour", cap.COLOUR_NAMES),
        ("position", cap.POSITION_NAMES),
        ("size", cap.SIZE_NAMES),
    ):
        a = data.attributes[name]
        assert a.shape == (n,) and 0 <= int(a.min()) and int(a.max()) < len(words)
    assert torch.equal(data.attributes["shape"], data.y.cpu())


def test_captions_name_the_right_factors(data):
    for i, text in enumerate(data.texts):
        words = f" {text.replace(',', ' ')} "
        assert f" {data.classes[int(data.y[i])].replace('_', ' ')} " in words, text
        assert f" {cap.COLOUR_NAMES[int(data.attributes['colour'][i])]} " in words, text
        assert f" {cap.SIZE_NAMES[int(data.attributes['size'][i])]} " in words, text
        assert cap.POSITION_PHRASES[int(data.attributes["position"][i])] in text, text
        # no other shape is mentioned
        others = [s.replace("_", " ") for j, s in enumerate(SHAPE_NAMES) if j != int(data.y[i])]
        assert not any(f" {o} " in words for o in others), text


def test_decode_of_tokens_is_the_text(data):
    assert cap.decode(data.tokens) == data.texts
    assert cap.decode(data.tokens[0]) == data.texts[0]


def test_tokenize_round_trips(data):
    for i in range(50):
        ids = cap.tokenize(data.texts[i])
        assert torch.equal(ids, data.tokens[i][: len(ids)])
        assert (data.tokens[i][len(ids) :] == cap.PAD).all()
        assert cap.decode(ids) == data.texts[i]


def test_tokenize_prompts_and_multiword_names():
    a = cap.tokenize("a photo of a half moon")
    assert torch.equal(a, cap.tokenize("A photo of a half-moon"))
    assert torch.equal(a, cap.tokenize("a photo of a half_moon"))
    assert cap.decode(a) == "a photo of a half moon"
    assert cap.UNK not in a.tolist() and cap.PAD not in a.tolist()
    assert cap.tokenize("a zebra")[1] == cap.UNK
    batch = cap.tokenize(["a star", "the red star, large"])
    assert batch.shape == (2, 5) and (batch[0, 2:] == cap.PAD).all()
    assert cap.tokenize(["a star", "a disk"], length=8).shape == (2, 8)
    with pytest.raises(ValueError, match="no words"):
        cap.tokenize("!!!")
    with pytest.raises(ValueError, match="non-empty"):
        cap.tokenize([])


def test_every_template_and_factor_word_is_in_the_vocabulary():
    words = set(cap.VOCAB.words)
    needed = set(SHAPE_NAMES) | set(cap.COLOUR_NAMES) | set(cap.SIZE_NAMES)
    needed |= set(cap.BACKGROUND_WORDS) | {w for p in cap.POSITION_PHRASES for w in p.split()}
    assert needed <= words
    full = cap.make_captioned_shapes(60, 16, seed=0, describe=cap.FACTORS)
    assert cap.UNK not in full.tokens.flatten().tolist()
    assert "background" in " ".join(full.texts)


def test_colour_names_of_pure_colours():
    expected = {
        "red": (1.0, 0.0, 0.0),
        "green": (0.0, 1.0, 0.0),
        "blue": (0.0, 0.0, 1.0),
        "yellow": (1.0, 1.0, 0.0),
        "cyan": (0.0, 1.0, 1.0),
        "purple": (0.6, 0.0, 1.0),
        "pink": (1.0, 0.4, 0.8),
        "orange": (1.0, 0.5, 0.0),
        "black": (0.02, 0.02, 0.05),
        "grey": (0.5, 0.5, 0.5),
        "white": (0.97, 0.95, 0.95),
    }
    names = [cap.COLOUR_NAMES[i] for i in cap.colour_names(torch.tensor(list(expected.values())))]
    assert names == list(expected)
    # a dark but saturated colour is named by its hue, not as black
    assert cap.COLOUR_NAMES[int(cap.colour_names(torch.tensor([[0.1, 0.0, 0.6]])))] == "blue"


def test_describe_limits_what_captions_say():
    only = cap.make_captioned_shapes(80, 16, seed=1, describe=("shape",))
    spoken = {w for t in only.texts for w in cap.VOCAB.split(t)}
    assert not spoken & (set(cap.COLOUR_NAMES) | set(cap.SIZE_NAMES) | {"left", "right"})
    names = [s.replace("_", " ") for s in SHAPE_NAMES]
    assert all(any(s in t for s in names) for t in only.texts)
    one = cap.make_captioned_shapes(40, 16, seed=1, templates=[0])
    assert (one.template == 0).all()


def test_mismatch_gives_other_images_captions():
    clean = cap.make_captioned_shapes(200, 16, seed=5)
    noisy = cap.make_captioned_shapes(200, 16, seed=5, mismatch=0.25)
    assert torch.equal(noisy.x, clean.x)
    bad = ~noisy.matched
    assert int(bad.sum()) == 50
    assert torch.equal(noisy.tokens[~bad], clean.tokens[~bad])
    # each mismatched caption is some other image's clean caption
    assert set(noisy.texts) <= set(clean.texts)
    assert sum(noisy.texts[i] != clean.texts[i] for i in bad.nonzero().flatten().tolist()) >= 40


def test_swap_noise_changes_some_words():
    clean = cap.make_captioned_shapes(200, 16, seed=6)
    noisy = cap.make_captioned_shapes(200, 16, seed=6, swap_prob=0.2)
    changed = (noisy.tokens != clean.tokens).float().sum() / (clean.tokens != cap.PAD).sum()
    assert 0.05 < float(changed) < 0.25
    assert noisy.matched.all() and (noisy.tokens[clean.tokens == cap.PAD] == cap.PAD).all()


def test_split_and_pairs(data):
    train, test = data.split(100, seed=0)
    assert len(train) == 200 and len(test) == 100
    x, t = test.pairs()
    assert x.shape[0] == t.shape[0] == 100
    i = 7
    j = next(k for k in range(len(data)) if torch.equal(data.x[k], test.x[i]))
    assert test.texts[i] == data.texts[j] and torch.equal(test.tokens[i], data.tokens[j])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"describe": ("colour",)}, "shape"),
        ({"describe": ("shape", "smell")}, "factors"),
        ({"templates": [99]}, "templates"),
        ({"swap_prob": 1.0}, "swap_prob"),
        ({"mismatch": -0.1}, "mismatch"),
        ({"n_objects": 2}, "n_objects"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cap.make_captioned_shapes(10, 16, seed=0, **kwargs)
