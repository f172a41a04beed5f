"""CreamFL: multimodal federated learning by sharing representations of a public set.

Reference: Qiying Yu, Yang Liu, Yimu Wang, Ke Xu, Jingjing Liu, "Multimodal Federated Learning
via Contrastive Representation Ensemble", ICLR 2023, https://arxiv.org/abs/2302.08888
(code: github.com/FLAIR-THU/CreamFL).

Clients hold different modalities (image-only, text-only, image-text pairs) and may run
different models, so their weights cannot be averaged. Instead, every round:

    server: g_img, g_txt = its embeddings of the small public set of pairs         (P, D) each
    client c: train on its private data (its own task) + 0.5 * regulariser on public rows
        regulariser = losses.global_contrast(z, g_same, g_other, z_old, t=0.5)
            inter: z_i must pick its own pair among the server's other-modality g_other
            intra: z_i closer to the server's g_same_i than to the client's previous z_old_i
    client c -> server: v_c = its embeddings of the public rows (its modalities only)
    server: aggregate per public row k, weighting clients by contrastive agreement
        w_ck = softmax_c( log_softmax_j(v_ck . g_other_j)[k] )   (con_w: does v_ck retrieve
        agg_k = sum_c w_ck v_ck                                    its own pair? then trust it)
    server: train on the public pairs: clip_loss + MSE(server embedding, agg)  (distillation)

The baseline is the server trained on the public set alone with the same steps.

Scaled down: MLP image towers and bag-of-words text towers instead of ResNet / BERT clients
and a larger server; a few thousand generated captioned shapes split over 4 clients (two
image-only with class-skewed shares, one text-only, one paired, ``make_multimodal``'s
``n_clients``, ``client_alpha`` and ``client_modalities``) instead of CIFAR-100, AG News and
Flickr30K, and a public set of a few hundred pairs instead of 500 COCO pairs; image- and
text-only clients train a shape classifier (the paper's clients train their own supervised
tasks); a handful of rounds. Clients have no weights in common with the server, as in the paper.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import clip_loss, global_contrast
from .clip import CLIP

MODES = ("image", "text", "pair")


class Client(nn.Module):
    """One federated client: a two-tower model of which it trains the towers it has data for.

    Args:
        model: a :class:`~contrastkit.methods.clip.CLIP` (its own architecture and width is
            allowed to differ from the server's, only the shared embedding size must match).
        mode: ``"image"`` or ``"text"`` (private data of one modality with shape labels: a
            classifier head on the embedding) or ``"pair"`` (private image-text pairs: CLIP).
        n_classes: classes of the private labels (image and text clients).
    """

    def __init__(self, model: CLIP, mode: str, n_classes: int = 10) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.model = model
        self.mode = mode
        embed_dim = model.image_proj.out_features
        self.head = nn.Linear(embed_dim, n_classes) if mode != "pair" else None
        self.old: CLIP | None = None  # the previous round's model, for the intra term

    def task_loss(self, batch: Sequence[Tensor]) -> Tensor:
        """The client's own objective on a private batch: ``(x, y)``, ``(tokens, y)`` or
        ``(x, tokens)``."""
        if self.mode == "pair":
            m = self.model
            a = m.image_proj(m.image_encoder(batch[0]))
            b = m.text_proj(m.text_encoder(batch[1]))
            return clip_loss(a, b, m.temperature)
        z = self.encode(self.model, batch[0], self.mode, normalise=True)
        return F.cross_entropy(self.head(z) * 10, batch[1])  # scaled cosines as logits

    @staticmethod
    def encode(model: CLIP, x: Tensor, modality: str, normalise: bool = True) -> Tensor:
        """``(N, D)`` embeddings of ``x`` by ``model``'s ``modality`` tower."""
        if modality == "image":
            z = model.image_proj(model.image_encoder(x))
        else:
            z = model.text_proj(model.text_encoder(x))
        return F.normalize(z, dim=1) if normalise else z

    @property
    def modalities(self) -> tuple[str, ...]:
        return ("image", "text") if self.mode == "pair" else (self.mode,)

    def regulariser(self, x_pub: Tensor, t_pub: Tensor, g_img: Tensor, g_txt: Tensor) -> Tensor:
        """CreamFL's inter- and intra-modal contrast on a batch of public rows (mean over the
        client's modalities)."""
        losses = []
        for mod in self.modalities:
            inp, same, other = (x_pub, g_img, g_txt) if mod == "image" else (t_pub, g_txt, g_img)
            z = self.encode(self.model, inp, mod, normalise=False)
            z_old = None
            if self.old is not None:
                with torch.no_grad():
                    z_old = self.encode(self.old, inp, mod, normalise=False)
            losses.append(global_contrast(z, same, other, z_old, 0.5))
        return torch.stack(losses).mean()


def embed_public(model: CLIP, x_pub: Tensor, t_pub: Tensor, batch: int = 1024) -> tuple:
    """``(P, D)`` unit image and text embeddings of the public pairs by ``model`` (eval mode)."""
    was = model.training
    model.eval()
    with torch.no_grad():
        a = torch.cat(
            [
                Client.encode(model, x_pub[i : i + batch], "image")
                for i in range(0, len(x_pub), batch)
            ]
        )
        b = torch.cat(
            [
                Client.encode(model, t_pub[i : i + batch], "text")
                for i in range(0, len(t_pub), batch)
            ]
        )
    model.train(was)
    return a, b


def contrastive_weights(reps: Sequence[Tensor], g_other: Tensor) -> Tensor:
    """CreamFL's ``con_w`` aggregation weights, ``(C, P)``: softmax over clients of how well
    each client's representation of public row ``k`` retrieves the server's pair ``k``.

    Args:
        reps: one ``(P, D)`` unit representation per client (of one modality).
        g_other: ``(P, D)`` the server's unit embeddings of the other modality.
    """
    if not reps:
        raise ValueError("reps must hold at least one client's representations")
    k = torch.arange(g_other.shape[0], device=g_other.device)
    scores = torch.stack([F.log_softmax(v @ g_other.T, dim=1)[k, k] for v in reps])  # (C, P)
    return scores.softmax(dim=0)


def aggregate(reps: Sequence[Tensor], g_other: Tensor, method: str = "con_w") -> tuple:
    """The ensemble of the clients' public representations: ``(agg (P, D), weights (C, P))``.

    ``method``: ``"con_w"`` (contrastive weights, the paper) or ``"mean"`` (uniform).
    """
    if method == "con_w":
        w = contrastive_weights(reps, g_other)
    elif method == "mean":
        w = torch.full((len(reps), g_other.shape[0]), 1 / len(reps), device=g_other.device)
    else:
        raise ValueError(f"method must be 'con_w' or 'mean', got {method!r}")
    return (w[..., None] * torch.stack(reps)).sum(dim=0), w


@dataclass
class Round:
    """What one round produced: the aggregation weights per modality and client."""

    weights: dict[str, Tensor] = field(default_factory=dict)  # modality -> (C_m, P)
    clients: dict[str, list[int]] = field(default_factory=dict)  # modality -> client indices


def _batches(n: int, size: int, steps: int, g: torch.Generator):
    for _ in range(steps):
        yield torch.randint(0, n, (min(size, n),), generator=g)


class CreamFL:
    """The federated loop: clients train locally, share public representations, the server
    distils their contrastive-weighted ensemble.

    Args:
        server: the server's :class:`CLIP` model.
        clients: the :class:`Client` s.
        reg_weight: weight of the clients' regulariser (``interintra_weight``, 0.5 in the paper).
        distill_weight: weight of the server's MSE to the aggregated representations.
        aggregation: ``"con_w"`` (the paper) or ``"mean"``.
        lr, batch_size: Adam's learning rate and the batch size of every local step.
    """

    def __init__(
        self,
        server: CLIP,
        clients: Sequence[Client],
        reg_weight: float = 0.5,
        distill_weight: float = 1.0,
        aggregation: str = "con_w",
        lr: float = 2e-3,
        batch_size: int = 128,
    ) -> None:
        if aggregation not in ("con_w", "mean"):
            raise ValueError(f"aggregation must be 'con_w' or 'mean', got {aggregation!r}")
        if reg_weight < 0 or distill_weight < 0:
            raise ValueError("reg_weight and distill_weight must be >= 0")
        self.server, self.clients = server, list(clients)
        self.reg_weight, self.distill_weight = reg_weight, distill_weight
        self.aggregation, self.lr, self.batch_size = aggregation, lr, batch_size
        self.server_opt = torch.optim.Adam(server.parameters(), lr=lr)
        self.client_opts = [torch.optim.Adam(c.parameters(), lr=lr) for c in self.clients]
        self.history: list[Round] = []

    def local_round(
        self,
        k: int,
        private: Sequence[Tensor],
        public: Sequence[Tensor],
        g: tuple[Tensor, Tensor],
        steps: int,
        gen: torch.Generator,
    ) -> None:
        """``steps`` local steps of client ``k``: its task on ``private`` + the regulariser."""
        client, opt = self.clients[k], self.client_opts[k]
        client.train()
        n_pub = len(public[0])
        for idx in _batches(len(private[0]), self.batch_size, steps, gen):
            loss = client.task_loss([t[idx] for t in private])
            if self.reg_weight > 0:
                j = torch.randint(0, n_pub, (min(self.batch_size, n_pub),), generator=gen)
                loss = loss + self.reg_weight * client.regulariser(
                    public[0][j], public[1][j], g[0][j], g[1][j]
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            client.model.after_step(0)

    def server_round(
        self,
        public: Sequence[Tensor],
        targets: dict[str, Tensor | None],
        steps: int,
        gen: torch.Generator,
    ) -> None:
        """``steps`` server steps on the public pairs: CLIP + MSE to the aggregated targets."""
        s = self.server
        s.train()
        for idx in _batches(len(public[0]), self.batch_size, steps, gen):
            a = s.image_proj(s.image_encoder(public[0][idx]))
            b = s.text_proj(s.text_encoder(public[1][idx]))
            loss = clip_loss(a, b, s.temperature)
            for z, name in ((a, "image"), (b, "text")):
                if targets.get(name) is not None and self.distill_weight > 0:
                    loss = (
                        loss
                        + self.distill_weight
                        * F.mse_loss(F.normalize(z, dim=1), targets[name][idx])
                        * z.shape[1]
                    )  # per-row squared distance, not per coordinate
            self.server_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.server_opt.step()
            s.after_step(0)

    def round(
        self,
        privates: Sequence[Sequence[Tensor]],
        public: Sequence[Tensor],
        local_steps: int,
        server_steps: int,
        seed: int = 0,
    ) -> Round:
        """One communication round; returns the aggregation weights it used."""
        gen = torch.Generator().manual_seed(seed)
        g_img, g_txt = embed_public(self.server, *public)
        reps: dict[str, list[Tensor]] = {"image": [], "text": []}
        rnd = Round(clients={"image": [], "text": []})
        for k, client in enumerate(self.clients):
            self.local_round(k, privates[k], public, (g_img, g_txt), local_steps, gen)
            client.old = copy.deepcopy(client.model).eval()
            v_img, v_txt = embed_public(client.model, *public)
            for mod, v in (("image", v_img), ("text", v_txt)):
                if mod in client.modalities:
                    reps[mod].append(v)
                    rnd.clients[mod].append(k)
        targets = {}
        for mod, other in (("image", g_txt), ("text", g_img)):
            if reps[mod]:
                targets[mod], rnd.weights[mod] = aggregate(reps[mod], other, self.aggregation)
            else:
                targets[mod] = None
        self.server_round(public, targets, server_steps, gen)
        self.history.append(rnd)
        return rnd


@torch.no_grad()
def image_to_text_r1(model: CLIP, x: Tensor, tokens: Tensor) -> float:
    """Image -> text R@1: the fraction of images whose own caption (same row) scores highest."""
    a, b = embed_public(model, x, tokens)
    return float(((a @ b.T).argmax(dim=1) == torch.arange(len(a), device=a.device)).float().mean())


def mean_weights(history: Sequence[Round], modality: str) -> dict[int, float]:
    """Client index -> its mean ``con_w`` weight for ``modality`` over the rounds (what the
    notebook's bars and its slider show)."""
    out: dict[int, list[float]] = {}
    for rnd in history:
        if modality not in rnd.weights:
            continue
        for row, k in enumerate(rnd.clients[modality]):
            out.setdefault(k, []).append(float(rnd.weights[modality][row].mean()))
    return {k: sum(v) / len(v) for k, v in out.items()}


METHOD = CreamFL
