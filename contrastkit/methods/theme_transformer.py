"""Theme Transformer: find a song's theme by contrastive clustering, then generate around it.

Reference: Yi-Jen Shih, Shih-Lun Wu, Frank Zalkow, Meinard Müller, Yi-Hsuan Yang, "Theme
Transformer: Symbolic Music Generation with Theme-Conditioned Transformer", IEEE Transactions
on Multimedia, 2022 (arXiv 2021), https://arxiv.org/abs/2111.04093 (code:
https://github.com/atosystem/ThemeTransformer).

Conditioning a generator on a *prompt* (the song's opening) lets it drift away; the paper
conditions on a *theme* that must recur. Two stages:

1. Theme retrieval (contrastive). A segment encoder ``f`` is trained so that a segment and an
   augmented copy of it (transposed, one note moved) agree and other segments do not:

       z = f(aug(s)),  z' = f(aug'(s))
       L_ret = NT-Xent(z, z'; t)              negatives: the other segments of the batch

   then the segments' embeddings are clustered (k-means here, DBSCAN in the paper) and, per
   song, the cluster that recurs most is its theme.
2. Theme-conditioned generation. An encoder reads the theme ``c``; the decoder runs its
   self-attention and a cross-attention to the theme *in parallel*, and a gate ``g_t`` (1 on
   the positions of a theme occurrence, 0 elsewhere) picks one of the two:

       h_t <- h_t + g_t * CrossAttn(h_t, enc(c)) + (1 - g_t) * SelfAttn(h_{<=t})
       L_gen = - sum_t log p(x_t | x_<t, c)

   The same network with the gate closed everywhere and no theme encoder is a decoder-only
   language model conditioned only by its prompt: the baseline the paper beats.

Scaled down: monophonic pitch tokens (24 pitches, 8-note segments, a fixed ``A B A' C A''``
form; see ``contrastkit.data.synthetic.make_theme_songs``) instead of polyphonic REMI events;
segments are cut at known boundaries (no bar detection); a 2-layer Conv2d piano-roll segment
encoder with a max over pitch; k-means (``contrastkit.prototypes.kmeans``) instead of DBSCAN;
2-layer encoder and decoder of width 64 instead of 6 layers of 256-512; the gate comes from the
(known, fixed) form at both training and generation time, where the paper generates theme
start/end events and reads the gate from them; an index-within-the-occurrence embedding stands
in for the theme-aligned positional encoding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import nt_xent
from ..prototypes import kmeans
from ..utils import eval_mode
from .base import Example, Method


def transpose_edit(
    segments: Tensor,
    n_pitches: int,
    max_shift: int = 5,
    p_edit: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A random variation of every segment: a transposition, and sometimes one note moved.

    The shift is uniform in ``[-max_shift, max_shift]``; with probability ``p_edit`` one random
    note moves by +-1 or +-2; pitches are clamped to ``[0, n_pitches)``. These are the
    variations a theme undergoes in a song, so the contrastive encoder learns to ignore them.

    Args:
        segments: ``(N, L)`` int64 pitches.
    """
    if segments.ndim != 2 or segments.dtype != torch.long:
        raise ValueError(
            f"segments must be int64 (N, L) pitches, got {tuple(segments.shape)} {segments.dtype}"
        )
    n, length = segments.shape

    def draw(*args):  # on the CPU with the generator, then moved: same numbers on any device
        return torch.randint(*args, generator=generator).to(segments.device)

    shift = draw(-max_shift, max_shift + 1, (n, 1))
    edit = (torch.rand(n, generator=generator) < p_edit).to(segments.device)
    delta = draw(1, 3, (n,)) * (draw(0, 2, (n,)) * 2 - 1) * edit
    bump = F.one_hot(draw(0, length, (n,)), length) * delta[:, None]
    return (segments + shift + bump).clamp(0, n_pitches - 1)


class SegmentEncoder(nn.Module):
    """A piano-roll CNN: ``(N, L)`` pitch ids -> ``(N, dim)``.

    The segment becomes a one-hot roll ``(pitch, time)``; two 2-D convolutions slide along
    both axes and a max over pitch follows, so a transposed segment gives (nearly) the same
    features: the network can be invariant to transposition, and training decides what else
    it keeps. (An embedding per absolute pitch would have to learn the invariance from
    scratch: our first try, much slower to train.)
    """

    def __init__(self, n_pitches: int, dim: int = 64, width: int = 16) -> None:
        super().__init__()
        self.n_pitches = n_pitches
        self.conv = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
        )
        self.out = nn.Linear(width * 2, dim)
        self.out_dim = dim

    def forward(self, segments: Tensor) -> Tensor:
        roll = F.one_hot(segments, self.n_pitches).float().transpose(1, 2)[:, None]  # (N,1,P,L)
        h = self.conv(roll).amax(2)  # (N, width, L): max over pitch
        return self.out(torch.cat([h.mean(2), h.amax(2)], 1))


class ThemeRetrieval(Method):
    """Stage 1: a segment encoder trained with NT-Xent on transposed / edited copies.

    ``fit`` batches are ``(N, L)`` segments. ``embed`` gives the projector's output, which
    :func:`retrieve_themes` clusters.
    """

    input_kind = "sequence"

    def __init__(
        self,
        n_pitches: int,
        dim: int = 64,
        temperature: float = 0.2,
        max_shift: int = 5,
        p_edit: float = 0.5,
    ) -> None:
        super().__init__()
        self.encoder = SegmentEncoder(n_pitches, dim)
        self.projector = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.n_pitches, self.temperature = n_pitches, temperature
        self.max_shift, self.p_edit = max_shift, p_edit

    def loss(self, batch: Tensor | tuple) -> Tensor:
        s = batch[0] if isinstance(batch, (tuple, list)) else batch  # (N, L)
        v = [transpose_edit(s, self.n_pitches, self.max_shift, self.p_edit) for _ in range(2)]
        z1, z2 = self.projector(self.encoder(torch.cat(v))).chunk(2)
        return nt_xent(z1, z2, self.temperature)

    def embed(self, segments: Tensor) -> Tensor:
        """The projected embedding: the space the contrastive loss shapes, which is clustered."""
        return self.projector(self.encoder(segments))

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        segments = torch.randint(0, 12, (8, 4), generator=g)  # 8 segments of 4 notes
        return Example(cls(12, dim=8, max_shift=2), segments, segments)


def retrieve_themes(z: Tensor, k: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Cluster segment embeddings and name each song's theme: its most frequent cluster.

    Args:
        z: ``(n_songs, n_segments, D)`` segment embeddings (or any features).
        k: number of clusters (spherical k-means, ``contrastkit.prototypes.kmeans``).

    Returns:
        ``(labels (n_songs, n_segments), is_theme (n_songs, n_segments) bool)``: the cluster of
        every segment, and whether it belongs to its song's most frequent cluster (ties: the
        cluster of the earliest segment).
    """
    if z.ndim != 3:
        raise ValueError(f"z must be (n_songs, n_segments, D), got {tuple(z.shape)}")
    n, m, _ = z.shape
    _, labels = kmeans(z.reshape(n * m, -1).float(), k, seed=seed)
    labels = labels.reshape(n, m)
    counts = (labels[:, :, None] == labels[:, None, :]).sum(2)  # (n, m) size of my cluster
    best = counts.max(1, keepdim=True).values
    first = (counts == best).float().argmax(1)  # earliest segment of a most frequent cluster
    theme_cluster = labels.gather(1, first[:, None])
    return labels, labels == theme_cluster


def pitch_histogram(segments: Tensor, n_pitches: int) -> Tensor:
    """``(..., L)`` pitches -> ``(..., n_pitches)`` normalised histograms (the raw baseline)."""
    return F.one_hot(segments, n_pitches).float().mean(-2)


def occurrences(tokens: Tensor, theme: Tensor, max_distance: int = 2) -> Tensor:
    """Where the theme recurs in each sequence, in any transposition: ``(N, T)`` bool.

    A window of ``len(theme)`` notes is an occurrence when, at its best transposition, at most
    ``max_distance`` notes differ from the theme (a transposition-invariant Hamming distance;
    an edit distance specialised to substitutions, the only edits our variations
    make). Occurrences are taken greedily from the left, without overlap; the result marks
    the notes they cover (for a piano roll), and :func:`recurrences` counts them.

    Args:
        tokens: ``(N, T)`` pitches. theme: ``(N, L)`` or ``(L,)`` pitches, ``L <= T``.
        max_distance: notes that may differ, ``>= 0``.
    """
    if theme.ndim == 1:
        theme = theme.expand(len(tokens), -1)
    if tokens.ndim != 2 or theme.shape[0] != tokens.shape[0] or theme.shape[1] > tokens.shape[1]:
        raise ValueError(
            f"tokens (N, T) and theme (N, L) with L <= T expected, "
            f"got {tuple(tokens.shape)} and {tuple(theme.shape)}"
        )
    if max_distance < 0:
        raise ValueError(f"max_distance must be >= 0, got {max_distance!r}")
    length = theme.shape[1]
    windows = tokens.unfold(1, length, 1)  # (N, W, L)
    diff = windows - theme[:, None]  # a transposed copy has one constant difference
    span = int(diff.abs().max()) + 1
    votes = F.one_hot(diff + span, 2 * span + 1).sum(2)  # (N, W, shifts): notes that agree
    match = ((length - votes.max(2).values) <= max_distance).cpu().tolist()  # (N, W)
    mask = torch.zeros(tokens.shape, dtype=torch.bool)
    for i, row in enumerate(match):  # greedy, non-overlapping
        t = 0
        while t < len(row):
            if row[t]:
                mask[i, t : t + length] = True
                t += length
            else:
                t += 1
    return mask


def recurrences(tokens: Tensor, theme: Tensor, max_distance: int = 2) -> Tensor:
    """``(N,)`` how many times the theme occurs in each sequence (see :func:`occurrences`)."""
    length = theme.shape[-1]
    return occurrences(tokens, theme, max_distance).sum(1) // length


class GatedDecoderLayer(nn.Module):
    """The paper's parallel decoder layer: self- and cross-attention side by side, gated.

    ``h + g * CrossAttn(h, memory) + (1 - g) * CausalSelfAttn(h)``, then a feed-forward block
    (pre-norm). ``g (B, T)`` is 1 on theme positions. With ``memory=None`` only the
    self-attention runs (the prompt-only baseline).
    """

    def __init__(self, dim: int, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm_self, self.norm_cross, self.norm_ff = (nn.LayerNorm(dim) for _ in range(3))
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, h: Tensor, memory: Tensor | None, gate: Tensor | None) -> Tensor:
        t = h.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=h.device).triu(1)  # True: masked
        x = self.norm_self(h)
        out = self.self_attn(x, x, x, attn_mask=causal, need_weights=False)[0]
        if memory is not None:
            g = gate[..., None].to(h.dtype)  # (B, T, 1)
            x = self.norm_cross(h)
            cross = self.cross_attn(x, memory, memory, need_weights=False)[0]
            out = g * cross + (1 - g) * out
        h = h + out
        return h + self.ff(self.norm_ff(h))


class ThemeTransformer(Method):
    """Stage 2: a seq2seq Transformer whose decoder attends to the theme in theme regions.

    ``fit`` batches are ``(theme (B, L), tokens (B, T), gate (B, T))``: the theme's notes, the
    song, and 1 where the song plays the theme. The decoder predicts ``tokens[t]`` from
    ``tokens[<t]`` (a start token first). ``conditioned=False`` builds the baseline: no theme
    encoder, no cross-attention, no theme-position embedding, i.e. a decoder-only LM that only
    sees the theme as the song's opening (its prompt).

    Args:
        n_pitches: vocabulary size (the start token is ``n_pitches``).
        max_len: longest song. seg_len: notes in a theme occurrence.
        dim, layers, heads: decoder width (also the theme encoder's), depth and heads.
    """

    input_kind = "themed_sequence"

    def __init__(
        self,
        n_pitches: int,
        max_len: int,
        seg_len: int,
        dim: int = 64,
        layers: int = 2,
        heads: int = 4,
        conditioned: bool = True,
    ) -> None:
        super().__init__()
        self.n_pitches, self.max_len, self.seg_len = n_pitches, max_len, seg_len
        self.conditioned = conditioned
        self.token = nn.Embedding(n_pitches + 1, dim)  # + the start token
        self.position = nn.Embedding(max_len, dim)
        self.layers = nn.ModuleList(GatedDecoderLayer(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_pitches)
        if conditioned:
            layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, 0.0, batch_first=True)
            self.theme_encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.theme_position = nn.Embedding(seg_len + 1, dim)  # index in the occurrence

    def logits(self, theme: Tensor, tokens: Tensor, gate: Tensor) -> Tensor:
        """``(B, T, n_pitches)`` next-note logits for the inputs ``tokens`` (start token first)."""
        t = tokens.shape[1]
        gate = gate[:, :t]
        pos = torch.arange(t, device=tokens.device)
        h = self.token(tokens) + self.position(pos)
        memory = None
        if self.conditioned:
            c = self.token(theme) + self.position(torch.arange(theme.shape[1], device=theme.device))
            memory = self.theme_encoder(c)
            # which note of the occurrence a theme position plays (seg_len elsewhere)
            index = torch.where(gate.bool(), pos % self.seg_len, self.seg_len)
            h = h + self.theme_position(index)
        for layer in self.layers:
            h = layer(h, memory, gate if self.conditioned else None)
        return self.head(self.norm(h))

    def _inputs(self, tokens: Tensor) -> Tensor:
        start = torch.full_like(tokens[:, :1], self.n_pitches)
        return torch.cat([start, tokens[:, :-1]], 1)

    def loss(self, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        theme, tokens, gate = batch
        logits = self.logits(theme, self._inputs(tokens), gate)
        return F.cross_entropy(logits.reshape(-1, self.n_pitches), tokens.reshape(-1))

    def embed(self, theme: Tensor) -> Tensor:
        """The theme encoder's mean output (conditioned) or the theme's mean token embedding."""
        c = self.token(theme)
        if self.conditioned:
            c = self.theme_encoder(c + self.position(torch.arange(theme.shape[1], device=c.device)))
        return c.mean(1)

    @torch.no_grad()
    def generate(
        self,
        theme: Tensor,
        prompt: Tensor,
        gate: Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Sample a song: ``prompt (B, P)`` is kept, the rest up to ``gate.shape[1]`` sampled.

        ``temperature`` divides the logits (``<= 0``: greedy). Returns ``(B, T)`` pitches.
        Runs in eval mode and leaves every submodule's mode as it was.
        """
        out = prompt
        with eval_mode(self):
            for _ in range(gate.shape[1] - prompt.shape[1]):
                logits = self.logits(theme, self._inputs(torch.cat([out, out[:, :1]], 1)), gate)
                step = logits[:, out.shape[1]]
                if temperature <= 0:
                    nxt = step.argmax(1)
                else:
                    p = F.softmax(step.float() / temperature, 1).cpu()
                    nxt = torch.multinomial(p, 1, generator=generator).squeeze(1).to(out.device)
                out = torch.cat([out, nxt[:, None]], 1)
        return out

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        theme = torch.randint(0, 6, (8, 4), generator=g)  # 4-note themes over 6 pitches
        tokens = torch.randint(0, 6, (8, 8), generator=g)  # 8-note songs
        gate = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0]).repeat(8, 1)  # the theme opens the song
        model = cls(6, max_len=8, seg_len=4, dim=16, layers=1, heads=2)
        return Example(model, (theme, tokens, gate), theme)


METHOD = ThemeTransformer
