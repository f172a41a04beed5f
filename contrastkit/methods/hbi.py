"""HBI: frames and words as players of a cooperative game; their Banzhaf interaction teaches
fine-grained video-text alignment.

Reference: Peng Jin, Jinfa Huang, Pengfei Xiong, Shangxuan Tian, Chang Liu, Xiangyang Ji, Li
Yuan, Jie Chen, "Video-Text as Game Players: Hierarchical Banzhaf Interaction for Cross-Modal
Representation Learning", CVPR 2023, https://arxiv.org/abs/2303.14369 (code:
https://github.com/jpthu17/HBI).

A video gives frame tokens ``v_1..v_F``, a caption word tokens ``t_1..t_L`` (unit vectors).

    S_tv = <t_t, v_v>                                   token-wise similarity (L, F)
    f(T, V) = 1/2 [ sum_{t in T} w_t max_{v in V} S_tv + sum_{v in V} w'_v max_{t in T} S_tv ]
                                                        weighted token-wise interaction (WTI);
                                                        w = softmax over T of a linear score
                                                        of each word, w' likewise for frames
    L_nce = symmetric InfoNCE over f(all words, all frames) of every caption x video pair

The words and frames are players; a coalition's worth is ``f`` restricted to its members. The
Banzhaf interaction of word ``t`` and frame ``v``, what they are worth together beyond what each
is worth alone, averaged over random coalitions ``C`` of the other players (each in with
probability 1/2):

    B(t, v) = E_C[ f(C + {t, v}) - f(C + {t}) - f(C + {v}) + f(C) ]

It is a target for the similarity map of every matched pair: KL from the (stopped-gradient)
distribution ``softmax(B / t_b)`` to ``softmax(S / t_b)``, over frames for each word and over
words for each frame:

    L = L_nce + lambda * L_banzhaf

Scaled down: a small ConvNet per frame and a one-layer Transformer over words instead of CLIP's
ViT-B and text Transformer; 8 frames and captions of about 8 words; the Banzhaf interaction by
direct Monte Carlo (``samples`` coalitions, 16-32 here, 1,000 in the paper's estimator
training, on 8 matched pairs of each batch) instead of a learned estimator network distilled
into a student; two levels of the game, not three: words x frames, and phrases x events
(``levels=2``), whose Banzhaf KL is added to the first level's, as the paper sums the game's
loss over levels (the InfoNCE stays on the first level). The paper merges tokens into the
higher levels with DPC-KNN; :func:`merge_tokens` is a deterministic greedy stand-in (merge the
two most similar groups until enough are left; neighbouring frames only, any two words). The
learned temperature of CLIP is kept.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models import SmallConvNet
from ..utils import eval_mode
from .base import Example, Method


def _check_tokens(x: Tensor, name: str, ndim: int = 3) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor")
    if x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")


def wti_score(
    sim: Tensor,
    word_weight: Tensor,
    frame_weight: Tensor,
    word_mask: Tensor | None = None,
    frame_mask: Tensor | None = None,
) -> Tensor:
    """The weighted token-wise interaction ``f`` of word-frame similarity maps.

    Args:
        sim: ``(..., L, F)`` cosine similarities of words and frames.
        word_weight: ``(..., L)`` unnormalised word scores (logits of ``w``); frame_weight
            ``(..., F)`` likewise. They are softmaxed over the players present.
        word_mask, frame_mask: ``(..., L)`` / ``(..., F)`` bool, the players present (a
            coalition, or the non-padding words); ``None``: all. Broadcast against ``sim``.

    Returns:
        ``(...)`` scores; 0 where a side has no player.
    """
    _check_tokens(sim, "sim", sim.ndim if sim.ndim >= 2 else 2)
    if word_mask is None:
        word_mask = torch.ones(sim.shape[:-1], dtype=torch.bool, device=sim.device)
    if frame_mask is None:
        frame_mask = torch.ones(
            sim.shape[:-2] + sim.shape[-1:], dtype=torch.bool, device=sim.device
        )
    n_words, n_frames = sim.shape[-2:]
    batch = torch.broadcast_shapes(
        sim.shape[:-2],
        word_mask.shape[:-1],
        frame_mask.shape[:-1],
        word_weight.shape[:-1],
        frame_weight.shape[:-1],
    )
    sim = sim.expand(batch + (n_words, n_frames))
    word_mask, word_weight = (x.expand(batch + (n_words,)) for x in (word_mask, word_weight))
    frame_mask, frame_weight = (x.expand(batch + (n_frames,)) for x in (frame_mask, frame_weight))
    neg = torch.finfo(sim.dtype).min
    both = word_mask[..., :, None] & frame_mask[..., None, :]  # (..., L, F)
    masked = sim.masked_fill(~both, neg)
    any_word, any_frame = word_mask.any(-1), frame_mask.any(-1)
    w = F.softmax(word_weight.masked_fill(~word_mask, neg), -1) * word_mask  # (..., L)
    u = F.softmax(frame_weight.masked_fill(~frame_mask, neg), -1) * frame_mask  # (..., F)
    t2v = (w * masked.amax(-1).masked_fill(~word_mask, 0)).sum(-1)  # each word's best frame
    v2t = (u * masked.amax(-2).masked_fill(~frame_mask, 0)).sum(-1)  # each frame's best word
    score = (t2v + v2t) / 2
    return torch.where(any_word & any_frame, score, torch.zeros_like(score))


def banzhaf_interaction(
    sim: Tensor,
    word_weight: Tensor,
    frame_weight: Tensor,
    word_mask: Tensor | None = None,
    samples: int = 32,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Monte Carlo Banzhaf interaction of every word-frame pair under the WTI game.

    ``B(t, v) = E_C[f(C+{t,v}) - f(C+{t}) - f(C+{v}) + f(C)]``, ``C`` a random coalition of the
    other players (each present with probability 1/2; padding words never), ``f``
    :func:`wti_score`. The same ``samples`` coalitions serve every pair (common random numbers:
    lower variance for comparing pairs).

    Args:
        sim: ``(B, L, F)`` similarity maps (one per matched caption-video pair).
        word_weight: ``(B, L)``; frame_weight: ``(B, F)`` (see :func:`wti_score`).
        word_mask: ``(B, L)`` bool, the real (non-padding) words; ``None``: all.
        samples: coalitions drawn, >= 1.

    Returns:
        ``(B, L, F)`` interactions (0 for padding words).
    """
    _check_tokens(sim, "sim")
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    b, n_words, n_frames = sim.shape
    if word_mask is None:
        word_mask = torch.ones(b, n_words, dtype=torch.bool, device=sim.device)
    draw = torch.rand(samples, b, n_words + n_frames, generator=generator).to(sim.device) < 0.5
    cw = draw[..., :n_words] & word_mask  # (M, B, L) coalition's words
    cf = draw[..., n_words:]  # (M, B, F) coalition's frames
    eye_w = torch.eye(n_words, dtype=torch.bool, device=sim.device)
    eye_f = torch.eye(n_frames, dtype=torch.bool, device=sim.device)
    # masks for (M, B, t, v): the coalition without t and v, then with t and/or v added
    base_w = (cw[:, :, None, :] & ~eye_w)[:, :, :, None, :].expand(-1, -1, -1, n_frames, -1)
    base_f = (cf[:, :, None, :] & ~eye_f)[:, :, None, :, :].expand(-1, -1, n_words, -1, -1)
    with_w = base_w | eye_w[:, None, :].expand(n_words, n_frames, n_words)
    with_f = base_f | eye_f[None, :, :].expand(n_words, n_frames, n_frames)
    with_w = with_w & word_mask[None, :, None, None, :]

    def f(wm, fm):  # (M, B, L, F) worth of each coalition
        return wti_score(
            sim[None, :, None, None],
            word_weight[None, :, None, None],
            frame_weight[None, :, None, None],
            wm,
            fm,
        )

    delta = f(with_w, with_f) - f(with_w, base_f) - f(base_w, with_f) + f(base_w, base_f)
    return delta.mean(0) * word_mask[..., None]


def banzhaf_kl(
    sim: Tensor, target: Tensor, word_mask: Tensor | None = None, temperature: float = 0.1
) -> Tensor:
    """KL from the Banzhaf interaction's distributions to the similarity map's, both ways.

    ``KL(softmax(B_t: / t) || softmax(S_t: / t))`` over frames for each word, plus the same over
    words for each frame, averaged; ``target`` is detached (a teacher). Padding words are left
    out of both.

    Args:
        sim: ``(B, L, F)`` word-frame similarities (the student).
        target: ``(B, L, F)`` Banzhaf interactions (the teacher).
        word_mask: ``(B, L)`` bool real words; ``None``: all.
        temperature: ``t > 0``.

    Raises:
        ValueError: a bad temperature or shapes that differ (named).
    """
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    _check_tokens(sim, "sim")
    _check_tokens(target, "target")
    if sim.shape != target.shape:
        raise ValueError(
            f"target must match sim's shape {tuple(sim.shape)}, got {tuple(target.shape)}"
        )
    dtype = sim.dtype
    s, t = sim.float() / temperature, target.detach().float() / temperature
    if word_mask is None:
        word_mask = torch.ones(sim.shape[:2], dtype=torch.bool, device=sim.device)
    # rows: a distribution over frames for every real word
    p = F.log_softmax(t, -1)
    rows = (p.exp() * (p - F.log_softmax(s, -1))).sum(-1)  # (B, L)
    rows = (rows * word_mask).sum() / word_mask.sum().clamp_min(1)
    # columns: a distribution over the real words for every frame
    neg = torch.finfo(torch.float32).min
    s_c = s.masked_fill(~word_mask[..., None], neg)
    t_c = t.masked_fill(~word_mask[..., None], neg)
    q = F.log_softmax(t_c, 1)
    cols = (q.exp() * (q - F.log_softmax(s_c, 1))).masked_fill(~word_mask[..., None], 0).sum(1)
    return ((rows + cols.mean()) / 2).to(dtype)


def merge_tokens(
    tokens: Tensor, groups: int, mask: Tensor | None = None, adjacent: bool = True
) -> tuple[Tensor, Tensor]:
    """Merge tokens into at most ``groups`` higher-level tokens (frames -> events, words ->
    phrases): the paper's token merging, as greedy agglomerative clustering.

    Start with one group per real token; repeatedly merge the two most similar groups (cosine
    of their mean unit tokens) until ``groups`` are left. With ``adjacent=True`` only
    neighbouring groups may merge, so every group is a contiguous segment (frames into events);
    with ``adjacent=False`` any two may (words into phrases by meaning). Ties go to the first
    pair, so the result is deterministic. The assignment is computed without gradient; each
    merged token is the mean of its members' tokens and carries their gradient. Groups are
    numbered by their first member.

    Args:
        tokens: ``(B, N, D)`` floating-point tokens.
        groups: how many groups to keep, ``>= 1`` (fewer where a row has fewer real tokens).
        mask: ``(B, N)`` bool, the real tokens (padding joins no group); ``None``: all.
        adjacent: merge neighbours only (contiguous groups) or any two groups.

    Returns:
        ``merged (B, groups, D)`` mean tokens (0 for an empty group) and ``assignment (B, N)``
        long, each real token's group in ``[0, groups)``, ``-1`` for padding.

    Raises:
        ValueError: a bad ``groups``, ``tokens`` or ``mask`` (named).
    """
    _check_tokens(tokens, "tokens")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"groups must be a positive integer, got {groups!r}")
    b, n, _ = tokens.shape
    if mask is None:
        mask = torch.ones(b, n, dtype=torch.bool, device=tokens.device)
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (b, n):
        raise ValueError(f"mask must be a bool tensor of shape {(b, n)}")
    unit = F.normalize(tokens.detach().float(), dim=-1).cpu()
    real = mask.cpu()
    assignment = torch.full((b, n), -1, dtype=torch.long)
    for i in range(b):
        members = [[j] for j in real[i].nonzero().flatten().tolist()]
        sums = [unit[i, m[0]].clone() for m in members]
        while len(members) > groups:
            centres = F.normalize(torch.stack(sums), dim=-1)
            sim = centres @ centres.T
            if adjacent:
                p = int(torch.diagonal(sim, 1).argmax())
                q = p + 1
            else:
                k = len(members)
                upper = torch.triu(torch.ones(k, k, dtype=torch.bool), 1)
                flat = int(sim.masked_fill(~upper, -math.inf).argmax())
                p, q = divmod(flat, k)
            members[p] += members.pop(q)
            sums[p] = sums[p] + sums.pop(q)
        for g, m in enumerate(members):
            assignment[i, m] = g
    assignment = assignment.to(tokens.device)
    onehot = (assignment[..., None] == torch.arange(groups, device=tokens.device)).to(tokens.dtype)
    counts = onehot.sum(1).clamp_min(1)  # (B, groups)
    merged = torch.einsum("bng,bnd->bgd", onehot, tokens) / counts[..., None]
    return merged, assignment


def group_mask(assignment: Tensor, groups: int) -> Tensor:
    """``(B, groups)`` bool: which groups of an assignment (from :func:`merge_tokens`) have a
    member."""
    return (assignment[..., None] == torch.arange(groups, device=assignment.device)).any(1)


class FrameEncoder(nn.Module):
    """A small ConvNet per frame plus a learned frame-index embedding: ``(B, F, C, H, W)`` ->
    ``(B, F, dim)`` frame tokens."""

    def __init__(self, frames: int, dim: int = 64, widths: tuple[int, ...] = (16, 32)) -> None:
        super().__init__()
        self.cnn = SmallConvNet(in_channels=3, widths=widths)
        self.proj = nn.Linear(self.cnn.out_dim, dim)
        self.index = nn.Embedding(frames, dim)
        self.out_dim = dim

    def forward(self, video: Tensor) -> Tensor:
        b, f = video.shape[:2]
        h = self.proj(self.cnn(video.flatten(0, 1))).view(b, f, -1)
        return h + self.index(torch.arange(f, device=video.device))


class WordEncoder(nn.Module):
    """Word embeddings + positions + one Transformer layer: ``(B, L)`` ids -> ``(B, L, dim)``
    word tokens (id 0 is padding and is masked out of attention)."""

    def __init__(self, vocab_size: int, max_len: int = 16, dim: int = 64, heads: int = 4) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, 0.0, batch_first=True)
        self.layer = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.out_dim = dim

    def forward(self, tokens: Tensor) -> Tensor:
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        h = self.embedding(tokens) + self.position(pos)
        return self.layer(h, src_key_padding_mask=tokens == 0)


class HBI(Method):
    """Video-text model: frame and word tokens, WTI InfoNCE, Banzhaf-interaction KL.

    The batch is ``(video (B, F, C, H, W), tokens (B, L))``. ``banzhaf_weight = 0`` gives plain
    WTI; ``pooling="mean"`` the CLIP-style baseline (mean-pooled frames and words, one cosine
    per pair, same encoders), for which the Banzhaf term is not defined. With the Banzhaf term,
    ``loss`` also reports ``{"banzhaf_kl": the sum over levels, "banzhaf_kl_level<l>": each
    level's}``, which ``fit`` logs in ``History.metrics``.

    Args:
        frames: frames per video. vocab_size: caption vocabulary size. dim: token width.
        banzhaf_weight: ``lambda``. banzhaf_temperature: ``t_b``. samples: MC coalitions.
        banzhaf_pairs: how many matched pairs of each batch play the game (its cost grows as
            pairs x samples x L^2 x F^2).
        temperature: CLIP's starting temperature (learned).
        levels: levels of the game whose Banzhaf KL is summed in the loss: 1 (frames x words)
            or 2 (also events x phrases, the tokens merged by :func:`merge_tokens`).
        events, phrases: groups of the second level (frames merged into ``events``
            contiguous segments; words into ``phrases`` groups by similarity).
    """

    input_kind = "video_text"

    def __init__(
        self,
        frames: int,
        vocab_size: int,
        dim: int = 64,
        pooling: str = "wti",
        banzhaf_weight: float = 1.0,
        banzhaf_temperature: float = 0.1,
        samples: int = 8,
        banzhaf_pairs: int = 8,
        temperature: float = 0.07,
        levels: int = 1,
        events: int = 4,
        phrases: int = 4,
    ) -> None:
        super().__init__()
        if pooling not in ("wti", "mean"):
            raise ValueError(f"pooling must be 'wti' or 'mean', got {pooling!r}")
        if levels not in (1, 2):
            raise ValueError(f"levels must be 1 or 2, got {levels!r}")
        if not isinstance(events, int) or not 1 <= events <= frames:
            raise ValueError(f"events must be an integer in [1, frames={frames}], got {events!r}")
        if not isinstance(phrases, int) or phrases < 1:
            raise ValueError(f"phrases must be a positive integer, got {phrases!r}")
        self.levels, self.events, self.phrases = levels, events, phrases
        self.video_encoder = FrameEncoder(frames, dim)
        self.text_encoder = WordEncoder(vocab_size, dim=dim)
        self.word_score = nn.Linear(dim, 1)  # w_t = softmax(Linear(t))
        self.frame_score = nn.Linear(dim, 1)
        self.pooling, self.samples, self.banzhaf_pairs = pooling, samples, banzhaf_pairs
        self.banzhaf_weight, self.banzhaf_temperature = banzhaf_weight, banzhaf_temperature
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))

    def tokens(self, video: Tensor, text: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Unit frame tokens ``(B, F, D)``, unit word tokens ``(B, L, D)``, word mask."""
        v = F.normalize(self.video_encoder(video), dim=-1)
        t = F.normalize(self.text_encoder(text), dim=-1)
        return v, t, text != 0

    def level_tokens(
        self, v: Tensor, t: Tensor, mask: Tensor, level: int = 1
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """The players of one level: unit frame / event tokens ``(B, F', D)``, unit word /
        phrase tokens ``(B, L', D)``, the real words / phrases ``(B, L')``, and each frame's
        and each word's group ``(B, F)``, ``(B, L)`` (level 1: itself; padding -1)."""
        if level not in (1, 2):
            raise ValueError(f"level must be 1 or 2, got {level!r}")
        if level == 1:
            fa = torch.arange(v.shape[1], device=v.device).expand(v.shape[0], -1)
            wa = torch.arange(t.shape[1], device=t.device).expand(t.shape[0], -1)
            return v, t, mask, fa, wa.masked_fill(~mask, -1)
        v2, fa = merge_tokens(v, self.events, adjacent=True)
        t2, wa = merge_tokens(t, self.phrases, mask, adjacent=False)
        v2, t2 = F.normalize(v2, dim=-1), F.normalize(t2, dim=-1)
        return v2, t2, group_mask(wa, self.phrases), fa, wa

    def scores(self, v: Tensor, t: Tensor, mask: Tensor) -> Tensor:
        """``(B_text, B_video)`` caption-video scores (WTI, or cosine of the mean tokens)."""
        if self.pooling == "mean":
            tm = (t * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
            return F.normalize(tm, dim=-1) @ F.normalize(v.mean(1), dim=-1).T
        sim = torch.einsum("ald,bfd->ablf", t, v)  # (Bt, Bv, L, F)
        ww = self.word_score(t).squeeze(-1)[:, None]  # (Bt, 1, L)
        fw = self.frame_score(v).squeeze(-1)[None]  # (1, Bv, F)
        return wti_score(sim, ww, fw, mask[:, None], None)

    def loss(self, batch: tuple[Tensor, Tensor]) -> Tensor | tuple[Tensor, dict[str, float]]:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("HBI needs (video, tokens) batches: fit(model, (video, tokens))")
        video, text = batch[0], batch[1]
        v, t, mask = self.tokens(video, text)
        scale = self.log_scale.clamp(0, math.log(100)).exp()
        logits = scale * self.scores(v, t, mask)  # (B, B)
        target = torch.arange(len(text), device=text.device)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        if self.pooling == "wti" and self.banzhaf_weight > 0:
            k = self.banzhaf_pairs  # the game is played on the first k matched pairs
            kls = []
            for level in range(1, self.levels + 1):  # the game's KL, summed over levels
                vl, tl, ml = self.level_tokens(v[:k], t[:k], mask[:k], level)[:3]
                sim = torch.einsum("bld,bfd->blf", tl, vl)  # matched pairs (k, L', F')
                ww, fw = self.word_score(tl).squeeze(-1), self.frame_score(vl).squeeze(-1)
                with torch.no_grad():
                    target_b = banzhaf_interaction(sim, ww, fw, ml, self.samples)
                kls.append(banzhaf_kl(sim, target_b, ml, self.banzhaf_temperature))
            kl = sum(kls)
            parts = {f"banzhaf_kl_level{i}": float(x.detach()) for i, x in enumerate(kls, 1)}
            loss = loss + self.banzhaf_weight * kl
            return loss, {"banzhaf_kl": float(kl.detach()), **parts}
        return loss

    @torch.no_grad()
    def level_map(
        self, video: Tensor, text: Tensor, level: int = 1, samples: int = 64, seed: int = 0
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """For matched pairs at one level: the similarity map ``S (B, L', F')``, the Banzhaf
        map ``B``, and each frame's and word's group (see :meth:`level_tokens`). In eval mode
        (each submodule's mode is restored afterwards)."""
        with eval_mode(self):
            v, t, mask = self.tokens(video, text)
            v, t, mask, fa, wa = self.level_tokens(v, t, mask, level)
            sim = torch.einsum("bld,bfd->blf", t, v)
            ww, fw = self.word_score(t).squeeze(-1), self.frame_score(v).squeeze(-1)
        g = torch.Generator().manual_seed(seed)
        return sim, banzhaf_interaction(sim, ww, fw, mask, samples, g), fa, wa

    @torch.no_grad()
    def interaction_map(
        self, video: Tensor, text: Tensor, samples: int = 64, seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        """For matched pairs: the similarity map ``S (B, L, F)`` and the Banzhaf map ``B`` (eval
        mode)."""
        return self.level_map(video, text, 1, samples, seed)[:2]

    @torch.no_grad()
    def similarity(self, video: Tensor, text: Tensor, batch_size: int = 256) -> Tensor:
        """``(N_text, N_video)`` retrieval scores, in eval mode (each submodule's mode is
        restored afterwards), in blocks."""
        with eval_mode(self):
            vs, ts, ms = [], [], []
            for i in range(0, len(video), batch_size):
                v, t, m = self.tokens(video[i : i + batch_size], text[i : i + batch_size])
                vs.append(v)
                ts.append(t)
                ms.append(m)
            v, t, m = torch.cat(vs), torch.cat(ts), torch.cat(ms)
            rows = [self.scores(v, t[i : i + 64], m[i : i + 64]) for i in range(0, len(t), 64)]
        return torch.cat(rows)

    def embed(self, video: Tensor) -> Tensor:
        """A video's mean frame token (for kNN / PCA figures)."""
        return self.video_encoder(video).mean(1)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        video = torch.rand(6, 3, 3, 16, 16, generator=g)  # (B, F, C, H, W)
        text = torch.randint(1, 12, (6, 5), generator=g)
        text[:, 4:] = 0  # padding
        model = cls(3, 12, dim=16, samples=2, banzhaf_pairs=4, levels=2, events=2, phrases=2)
        return Example(model, (video, text), video)


METHOD = HBI
