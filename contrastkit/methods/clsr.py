"""CLSR: audio-text retrieval with intra-modal negatives, a learned temperature, reconstruction.

Reference: Kaiyi Luo, Xulong Zhang, Jianzong Wang, Huaxiong Li, Ning Cheng, Jing Xiao,
"Contrastive Latent Space Reconstruction Learning for Audio-Text Retrieval", arXiv 2023,
https://arxiv.org/abs/2309.08839.

Cross-modal InfoNCE (CLIP) only asks an audio clip to be nearer its caption than other
captions; nothing keeps two *different* clips apart from each other, and its temperature is
fixed. CLSR adds three things:

    z_a = normalise(P_a f(audio)),  z_t = normalise(P_t g(caption))        (N, E) each
    L_inter = clip_loss(z_a, z_t, t)                 symmetric cross-modal InfoNCE
    L_intra = intra_inter_nce(z_a, z_t, t)           the same, with the anchor's own modality
                                                     among the negatives of each denominator:
      -log e^{a_i.t_i/t} / (sum_j e^{a_i.t_j/t} + sum_{j!=i} e^{a_i.a_j/t})   (and t -> a)
    L_rec   = |r_ta(z_t) - sg(z_a)|^2 + |r_at(z_a) - sg(z_t)|^2   latent reconstruction by MLPs
    L = L_inter + w_intra L_intra + w_rec L_rec,     t = exp(-log_scale), learned

The paper adapts the temperature with "semantic guidance"; its exact form is not public, so
here the temperature is a learned scalar (CLIP's parametrisation, clamped at 1/t <= 100). That
is an inference from the abstract, not the paper's stated form.

Scaled down: the audio is ``make_multimodal``'s 64-sample tone (pitch = shape class, rhythm =
size, Gaussian noise) as a 9 x 17 log-spectrogram encoded by a two-layer MLP instead of a
pretrained PANNs CNN14 on log-mel spectrograms; captions are template sentences encoded by a
bag-of-words MLP (``clip.TextEncoder``) instead of BERT; a few thousand pairs instead of
AudioCaps/Clotho; a few hundred steps. The baseline is the same two towers with ``clip_loss``
alone at the fixed t = 0.07 (``CLSR.baseline``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import clip_loss, intra_inter_nce
from ..metrics import recall_at_k
from ..utils import eval_mode
from .base import Example, Method
from .clip import TextEncoder

__all__ = [
    "AudioEncoder",
    "CLSR",
    "TextEncoder",
    "cross_modal_cosine",
    "log_spectrogram",
    "retrieval_report",
]


def log_spectrogram(audio: Tensor, n_fft: int = 16, hop: int = 4) -> Tensor:
    """``(N, T)`` waveforms -> ``(N, n_fft // 2 + 1, frames)`` log-magnitude spectrograms.

    A Hann-windowed short-time Fourier transform, ``log(1 + |STFT|)``: the audio front end of
    the paper (log-mel) at toy size. Pitch shows up as a frequency row, rhythm as the energy
    rising and falling along time.
    """
    if audio.ndim != 2 or not audio.is_floating_point():
        raise ValueError(
            f"audio must be a float (N, T) waveform, got {tuple(audio.shape)} {audio.dtype}"
        )
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop, window=window, center=True, return_complex=True)
    return spec.abs().log1p()


class AudioEncoder(nn.Module):
    """A small spectrogram encoder: ``log_spectrogram``, flatten, a two-layer MLP.

    Args:
        length: samples per clip (fixes the spectrogram's size).
        width: hidden and output width.
        n_fft, hop: the spectrogram's window and hop in samples.
    """

    def __init__(self, length: int = 64, width: int = 64, n_fft: int = 16, hop: int = 4) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        n_in = (n_fft // 2 + 1) * (length // hop + 1)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_in, width),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.Linear(width, width),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
        )
        self.out_dim = width

    def forward(self, audio: Tensor) -> Tensor:
        return self.net(log_spectrogram(audio, self.n_fft, self.hop))  # (N, width)


def _mlp(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))


class CLSR(Method):
    """Audio and text towers trained with CLSR's three-part loss (see the module docstring).

    Args:
        audio_encoder: a module ``(N, T) -> (N, out_dim)`` (default ``AudioEncoder()``).
        text_encoder: a module ``(N, L) ids -> (N, out_dim)`` (e.g. ``TextEncoder(len(VOCAB))``).
        embed_dim: size of the shared space.
        temperature: the starting temperature (and the fixed one if not learned).
        learn_temperature: the adaptive temperature (a learned ``log(1 / t)``).
        intra_weight: ``w_intra`` (0 turns intra-modal separability off).
        rec_weight: ``w_rec`` (0 turns latent reconstruction off).
        max_logit_scale: the clamp on ``1 / t``.

    The batch is ``(audio, tokens)``: ``fit(model, (audio, tokens))``; row i of each pairs up.

    Example:
        >>> model = CLSR(AudioEncoder(), TextEncoder(len(VOCAB)))
        >>> base = CLSR.baseline(AudioEncoder(), TextEncoder(len(VOCAB)))
        >>> hist = fit(model, (audio, tokens), steps=300)
    """

    input_kind = "audio_text"

    def __init__(
        self,
        audio_encoder: nn.Module,
        text_encoder: nn.Module,
        embed_dim: int = 32,
        temperature: float = 0.07,
        learn_temperature: bool = True,
        intra_weight: float = 1.0,
        rec_weight: float = 1.0,
        max_logit_scale: float = 100.0,
    ) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if intra_weight < 0 or rec_weight < 0:
            raise ValueError(
                f"intra_weight and rec_weight must be >= 0, got {intra_weight}, {rec_weight}"
            )
        if not max_logit_scale >= 1:
            raise ValueError(f"max_logit_scale must be >= 1, got {max_logit_scale}")
        self.audio_encoder, self.text_encoder = audio_encoder, text_encoder
        self.audio_proj = nn.Linear(audio_encoder.out_dim, embed_dim, bias=False)
        self.text_proj = nn.Linear(text_encoder.out_dim, embed_dim, bias=False)
        self.log_scale = nn.Parameter(
            torch.tensor(math.log(1 / temperature)), requires_grad=learn_temperature
        )
        self.max_log_scale = math.log(max_logit_scale)
        self.intra_weight, self.rec_weight = intra_weight, rec_weight
        # latent reconstruction: each modality's embedding predicted from the other's
        self.text_to_audio = _mlp(embed_dim) if rec_weight > 0 else None
        self.audio_to_text = _mlp(embed_dim) if rec_weight > 0 else None

    @classmethod
    def baseline(cls, audio_encoder: nn.Module, text_encoder: nn.Module, **kwargs) -> CLSR:
        """The paper's baseline: the same towers, ``clip_loss`` alone at a fixed t (0.07)."""
        kwargs = {"learn_temperature": False, "intra_weight": 0.0, "rec_weight": 0.0, **kwargs}
        return cls(audio_encoder, text_encoder, **kwargs)

    @property
    def temperature(self) -> Tensor:
        """``t = exp(-log_scale)``, clamped to ``[1 / max_logit_scale, 1]``."""
        return self.log_scale.clamp(0, self.max_log_scale).neg().exp()

    def encode_audio(self, audio: Tensor) -> Tensor:
        """``(N, E)`` unit-length audio embeddings."""
        return F.normalize(self.audio_proj(self.audio_encoder(audio)), dim=1)

    def encode_text(self, tokens: Tensor) -> Tensor:
        """``(N, E)`` unit-length caption embeddings."""
        return F.normalize(self.text_proj(self.text_encoder(tokens)), dim=1)

    def loss(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """The total and its parts ``{"inter", "intra", "rec", "temperature"}`` (unweighted;
        a part whose weight is 0 is left out)."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("CLSR needs (audio, tokens) batches: fit(model, (audio, tokens))")
        za, zt = self.encode_audio(batch[0]), self.encode_text(batch[1])  # (N, E) each
        t = self.temperature
        inter = clip_loss(za, zt, t)
        total, parts = inter, {"inter": float(inter.detach())}
        if self.intra_weight > 0:
            intra = intra_inter_nce(za, zt, t)
            total = total + self.intra_weight * intra
            parts["intra"] = float(intra.detach())
        if self.rec_weight > 0:
            # targets are stopped: the reconstructor pulls its *input* towards carrying the
            # other modality's latent, never the target towards an easy-to-predict point
            rec = (self.text_to_audio(zt) - za.detach()).pow(2).sum(1).mean() + (
                self.audio_to_text(za) - zt.detach()
            ).pow(2).sum(1).mean()
            total = total + self.rec_weight * rec
            parts["rec"] = float(rec.detach())
        parts["temperature"] = float(t.detach())
        return total, parts

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        self.log_scale.clamp_(0, self.max_log_scale)

    def embed(self, audio: Tensor) -> Tensor:
        """The audio representation used downstream (the unit embedding)."""
        return self.encode_audio(audio)

    @torch.no_grad()
    def encode(self, audio: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """Both modalities' unit embeddings in eval mode, on the CPU."""
        dev = self.log_scale.device
        with eval_mode(self):
            za = self.encode_audio(audio.to(dev)).cpu()
            zt = self.encode_text(tokens.to(dev)).cpu()
        return za, zt

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        """A small model, 8 toy (tone, caption) pairs and the tones for ``embed``."""
        g = torch.Generator().manual_seed(seed)
        audio = torch.randn(8, 64, generator=g)
        tokens = torch.randint(1, 20, (8, 6), generator=g)
        torch.manual_seed(seed)
        model = cls(AudioEncoder(64, 16), TextEncoder(20, 16), embed_dim=8)
        return Example(model, (audio, tokens), audio)


# ---------------------------------------------------------------------------------------------
# Retrieval and separability: the measures behind the notebook's table
# ---------------------------------------------------------------------------------------------


def cross_modal_cosine(z: Tensor, groups: Tensor) -> dict[str, float]:
    """Within-modality separability of unit embeddings ``z`` by ground-truth ``groups``.

    Returns:
        ``{"same", "different", "nn_same"}``: the mean cosine between items of the same group
        and of different groups (lower ``different`` = further apart), and
        the fraction of items whose nearest other item is of their group (leave-one-out 1-NN).
    """
    z = F.normalize(z.float(), dim=1)
    cos = z @ z.T  # (N, N)
    same = groups[:, None] == groups[None, :]
    off = ~torch.eye(len(z), dtype=torch.bool)
    nearest = cos.masked_fill(~off, float("-inf")).argmax(dim=1)  # leave-one-out 1-NN
    return {
        "same": float(cos[same & off].mean()),
        "different": float(cos[~same].mean()),
        "nn_same": float((groups[nearest] == groups).float().mean()),
    }


def retrieval_report(
    model: CLSR, audio: Tensor, tokens: Tensor, content: Tensor, ks: tuple[int, ...] = (1, 5)
) -> dict[str, float]:
    """Text->audio and audio->text recall@k on held-out pairs, plus audio separability.

    A retrieved clip (caption) is relevant when it has the query's ``content`` (a ground-truth
    id, e.g. shape class x size): clips with the same content are indistinguishable from the
    caption alone.

    Returns:
        ``{"t2a_R@1", "t2a_R@5", "a2t_R@1", "a2t_R@5", "audio_same", "audio_different",
        "audio_nn_same"}`` (see ``cross_modal_cosine``).
    """
    za, zt = model.encode(audio, tokens)
    relevant = content[:, None] == content[None, :]  # (N, N)
    sim = zt @ za.T  # (N captions, N clips)
    out = {f"t2a_R@{k}": recall_at_k(sim, k, relevant) for k in ks}
    out.update({f"a2t_R@{k}": recall_at_k(sim.T, k, relevant.T) for k in ks})
    sep = cross_modal_cosine(za, content)
    out.update({f"audio_{k}": v for k, v in sep.items()})
    return out


METHOD = CLSR
