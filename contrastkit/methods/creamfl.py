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

How it runs under ``fit``: :class:`CreamFL` is a method whose ``loss(batch)`` is the server's
objective on a batch of the public pairs (``fit`` draws the batches and owns the server's
optimiser); its ``after_step`` runs the clients' part of a round every ``server_steps`` steps (the
clients' local training with their own optimisers, then the aggregation), the contract's hook for
a second loop. A round starts with the clients: the first round's run when the first batch
arrives, the next ones after each ``server_steps`` server steps.

    model = CreamFL(server, clients, public, local_steps=60, server_steps=40, rounds=5)
    fit(model, (*public, torch.arange(len(public[0]))), steps=5 * 40, batch_size=128)

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
from ..utils import eval_mode
from .base import Example, Method
from .clip import CLIP, TextEncoder

MODES = ("image", "text", "pair")


class Client(nn.Module):
    """One federated client: a two-tower model of which it trains the towers it has data for.

    Args:
        model: a :class:`~contrastkit.methods.clip.CLIP` (its own architecture and width is
            allowed to differ from the server's, only the shared embedding size must match).
        mode: ``"image"`` or ``"text"`` (private data of one modality with shape labels: a
            classifier head on the embedding) or ``"pair"`` (private image-text pairs: CLIP).
        private: the client's own data, rows paired up: ``(images, labels)``,
            ``(tokens, labels)`` or ``(images, tokens)``. It never leaves the client.
        n_classes: classes of the private labels (image and text clients).
    """

    def __init__(
        self,
        model: CLIP,
        mode: str,
        private: Sequence[Tensor] | None = None,
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.model = model
        self.mode = mode
        embed_dim = model.image_proj.out_features
        self.head = nn.Linear(embed_dim, n_classes) if mode != "pair" else None
        self.old: CLIP | None = None  # the previous round's model, for the intra term
        self.private: tuple[Tensor, ...] = ()
        if private is not None:
            if len(private) != 2 or len(private[0]) != len(private[1]):
                raise ValueError("private must be two tensors with the same rows")
            self.private = tuple(private)

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
                with torch.no_grad(), eval_mode(self.old):
                    z_old = self.encode(self.old, inp, mod, normalise=False)
            losses.append(global_contrast(z, same, other, z_old, 0.5))
        return torch.stack(losses).mean()


def embed_public(model: CLIP, x_pub: Tensor, t_pub: Tensor, batch: int = 1024) -> tuple:
    """``(P, D)`` unit image and text embeddings of the public pairs by ``model`` (eval mode)."""
    with torch.no_grad(), eval_mode(model):
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


class CreamFL(Method):
    """The server's training on the public pairs, with the clients' rounds as its inner loop.

    ``loss(batch)``: the server's CLIP loss on a batch ``(images, tokens, rows)`` of the public
    pairs, plus ``distill_weight`` times the squared distance of its unit embeddings to the
    clients' aggregated representations of those rows (from the last round). ``after_step``:
    every ``server_steps`` steps, the next round's clients train locally (``local_steps`` each,
    their own Adam) and share their representations of the public set, which are aggregated.

    Args:
        server: the server's :class:`CLIP` model.
        clients: the :class:`Client` s, each holding its private data.
        public: ``(images, tokens)`` the public pairs (the same tensors ``fit`` is given).
        reg_weight: weight of the clients' regulariser (``interintra_weight``, 0.5 in the paper).
        distill_weight: weight of the server's MSE to the aggregated representations.
        aggregation: ``"con_w"`` (the paper) or ``"mean"``.
        lr, batch_size: the clients' Adam learning rate and the batch size of a local step.
        local_steps: each client's steps per round. server_steps: server steps per round.
        rounds: how many rounds the clients run (``None``: as many as ``fit``'s steps allow).
        seed: seeds the clients' batches (round ``r`` uses ``seed * 100 + r``).

    ``loss`` also reports ``{"clip", "distill"}``, which ``fit`` logs in ``History.metrics``;
    ``history`` keeps each round's aggregation weights (:class:`Round`).
    """

    input_kind = "federated"

    def __init__(
        self,
        server: CLIP,
        clients: Sequence[Client],
        public: Sequence[Tensor],
        reg_weight: float = 0.5,
        distill_weight: float = 1.0,
        aggregation: str = "con_w",
        lr: float = 2e-3,
        batch_size: int = 128,
        local_steps: int = 60,
        server_steps: int = 40,
        rounds: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if aggregation not in ("con_w", "mean"):
            raise ValueError(f"aggregation must be 'con_w' or 'mean', got {aggregation!r}")
        if reg_weight < 0 or distill_weight < 0:
            raise ValueError("reg_weight and distill_weight must be >= 0")
        if local_steps < 0 or server_steps < 1:
            raise ValueError(
                f"local_steps must be >= 0 and server_steps >= 1, got {local_steps}, {server_steps}"
            )
        if len(public) < 2 or len(public[0]) != len(public[1]):
            raise ValueError("public must be (images, tokens) with the same rows")
        for k, c in enumerate(clients):
            if not c.private:
                raise ValueError(f"client {k} holds no private data (Client(..., private=...))")
        self.server = server
        self.clients = nn.ModuleList(clients)
        self.register_buffer("public_images", public[0], persistent=False)
        self.register_buffer("public_tokens", public[1], persistent=False)
        self.reg_weight, self.distill_weight = reg_weight, distill_weight
        self.aggregation, self.lr, self.batch_size = aggregation, lr, batch_size
        self.local_steps, self.server_steps, self.rounds = local_steps, server_steps, rounds
        self.seed = seed
        # the clients' own optimisers: the inner loop's, not fit's (which trains the server)
        self.client_opts = [torch.optim.Adam(c.parameters(), lr=lr) for c in self.clients]
        self.targets: dict[str, Tensor | None] = {"image": None, "text": None}
        self.history: list[Round] = []

    @property
    def public(self) -> tuple[Tensor, Tensor]:
        return self.public_images, self.public_tokens

    def local_round(
        self, k: int, g: tuple[Tensor, Tensor], steps: int, gen: torch.Generator
    ) -> None:
        """``steps`` local steps of client ``k``: its task on its private data + the
        regulariser on public rows against the server's embeddings ``g``."""
        client, opt, public = self.clients[k], self.client_opts[k], self.public
        private = client.private
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

    def client_round(self) -> Round:
        """The clients' part of the next round: local training, then the aggregation of their
        public representations into the server's targets. Returns the round's weights."""
        gen = torch.Generator().manual_seed(self.seed * 100 + len(self.history))
        public = self.public
        g_img, g_txt = embed_public(self.server, *public)
        reps: dict[str, list[Tensor]] = {"image": [], "text": []}
        rnd = Round(clients={"image": [], "text": []})
        with torch.enable_grad():
            for k, client in enumerate(self.clients):
                self.local_round(k, (g_img, g_txt), self.local_steps, gen)
                client.old = copy.deepcopy(client.model).eval().requires_grad_(False)
                v_img, v_txt = embed_public(client.model, *public)
                for mod, v in (("image", v_img), ("text", v_txt)):
                    if mod in client.modalities:
                        reps[mod].append(v)
                        rnd.clients[mod].append(k)
        for mod, other in (("image", g_txt), ("text", g_img)):
            if reps[mod]:
                self.targets[mod], rnd.weights[mod] = aggregate(reps[mod], other, self.aggregation)
            else:
                self.targets[mod] = None
        self.history.append(rnd)
        return rnd

    def _more_rounds(self) -> bool:
        return self.rounds is None or len(self.history) < self.rounds

    def loss(self, batch: Sequence[Tensor]) -> tuple[Tensor, dict[str, float]]:
        if not isinstance(batch, (tuple, list)) or len(batch) < 3:
            raise TypeError(
                "CreamFL needs (images, tokens, rows) batches of the public set: "
                "fit(model, (*public, torch.arange(len(public[0]))))"
            )
        if not self.history and self._more_rounds():
            self.client_round()  # a round starts with the clients; the first one starts here
        x, tokens, rows = batch[0], batch[1], batch[2]  # (N, C, H, W), (N, L), (N,)
        s = self.server
        a = s.image_proj(s.image_encoder(x))
        b = s.text_proj(s.text_encoder(tokens))
        clip = clip_loss(a, b, s.temperature)
        distill = clip.new_zeros(())
        for z, name in ((a, "image"), (b, "text")):
            target = self.targets.get(name)
            if target is not None and self.distill_weight > 0:
                # per-row squared distance, not per coordinate
                distill = distill + F.mse_loss(F.normalize(z, dim=1), target[rows]) * z.shape[1]
        loss = clip + self.distill_weight * distill
        return loss, {"clip": float(clip.detach()), "distill": float(distill.detach())}

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        self.server.after_step(step)
        if (step + 1) % self.server_steps == 0 and self._more_rounds():
            self.client_round()

    def embed(self, x: Tensor) -> Tensor:
        """The server's image representation (its image encoder's output)."""
        return self.server.embed(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import MLP

        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)

        def tiny() -> CLIP:
            return CLIP(MLP(3 * 8 * 8, (16,), 8), TextEncoder(30, 8), embed_dim=8)

        x = torch.rand(16, 3, 8, 8, generator=g)
        tokens = torch.randint(1, 30, (16, 5), generator=g)
        labels = torch.randint(0, 3, (16,), generator=g)
        clients = [Client(tiny(), "image", (x[8:], labels[8:]), n_classes=3),
                   Client(tiny(), "pair", (x[8:], tokens[8:]))]  # fmt: skip
        public = (x[:8], tokens[:8])
        model = cls(tiny(), clients, public, batch_size=4, local_steps=2, server_steps=1, rounds=2)
        return Example(model, (*public, torch.arange(8)), public[0])


@torch.no_grad()
def image_to_text_r1(model: CLIP | CreamFL, x: Tensor, tokens: Tensor) -> float:
    """Image -> text R@1 of a CLIP model (or a CreamFL's server): the fraction of images whose
    own caption (same row) scores highest."""
    a, b = embed_public(getattr(model, "server", model), x, tokens)
    return float(((a @ b.T).argmax(dim=1) == torch.arange(len(a), device=a.device)).float().mean())


METHOD = CreamFL
