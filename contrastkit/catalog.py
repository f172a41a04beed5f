"""The reading list: every notebook of the suite, its paper and where its code lives.

This is a static copy of the project's reading list (63 papers in 10 chapters plus
the foundations they build on), so that the package never reads files outside itself.
Each entry's ``key`` names its notebook, its method module and its claims record.

Years and venues come from the paper cards; where a card gives the venue only "from
knowledge" it has not been checked against the paper. The year is the venue's year
when the venue is known, else the year the paper first appeared. Authors are filled in
only for the foundation papers; an empty string means "not recorded here", never
"anonymous".

Example:
    >>> from contrastkit import catalog
    >>> catalog.get("simclr").notebook
    'notebooks/01_foundations/01_simclr.ipynb'
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

#: Keys whose notebook (and method) has landed. Drives ``Entry.status``; add a key
#: here when its notebook is merged.
DONE: set[str] = {
    "start_here",
    "simclr",
    "align_uniform",
    "wang_liu",
    "moco",
    "byol_simsiam",
    "supcon",
    "clip",
    "hallucinator",
    "obow",
    "mugs",
    "symile",
    "gram",
    "clsr",
    "m5product",
    "ifnd",
    "g_simclr",
    "cmim",
    "gpc",
    "mlcd",
    "modx",
    "creamfl",
    "albef",
    "unimo",
    "mplug2",
    "tcl",
    "cacr",
    "declip",
    "c3gan",
    "joint_image_volume",
    "slotcon",
    "pixel_prototype",
    "hydra",
    "adainf",
    "mlvgm_views",
    "voltron",
    "blto",
    "theme_transformer",
    "hbi",
}

START_HERE_NOTEBOOK = "notebooks/00_start_here.ipynb"

# The reading list in reading order. "# <folder> | <chapter title>" opens a chapter;
# "key | year | venue | card" opens an entry (empty field = unknown); the indented
# lines below it are the title. Keep in step with the project's papers/catalog.md.
_TABLE = """
# 01_foundations | Foundations
start_here            |      |                                 |
    Start here: the suite, the data, quick vs full mode
simclr                | 2020 | ICML 2020                       |
    A Simple Framework for Contrastive Learning of Visual Representations
align_uniform         | 2020 | ICML 2020                       |
    Understanding Contrastive Representation Learning through Alignment and Uniformity on
    the Hypersphere
wang_liu              | 2021 | CVPR 2021                       | 11
    Understanding the Behaviour of Contrastive Loss
moco                  | 2020 | arXiv                           |
    Improved Baselines with Momentum Contrastive Learning
byol_simsiam          | 2020 | NeurIPS 2020; CVPR 2021         |
    Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning; Exploring Simple
    Siamese Representation Learning
supcon                | 2020 | NeurIPS 2020                    |
    Supervised Contrastive Learning
clip                  | 2021 | ICML 2021                       |
    Learning Transferable Visual Models From Natural Language Supervision
swav_dino             | 2021 | NeurIPS 2020; ICCV 2021         |
    Unsupervised Learning of Visual Features by Contrasting Cluster Assignments; Emerging
    Properties in Self-Supervised Vision Transformers
barlow_vicreg         | 2022 | ICML 2021; ICLR 2022            |
    Barlow Twins: Self-Supervised Learning via Redundancy Reduction; VICReg:
    Variance-Invariance-Covariance Regularization for Self-Supervised Learning
mae                   | 2022 | CVPR 2022                       |
    Masked Autoencoders Are Scalable Vision Learners
# 02_negatives_positives | Negatives, positives and the loss
ifnd                  | 2022 | ICLR 2022                       | 9
    Incremental False Negative Detection for Contrastive Learning
cacr                  | 2021 |                                 | 31
    Contrastive Attraction and Contrastive Repulsion for Representation Learning
g_simclr              | 2020 | ICDM 2020 workshop (DLKT)       | 64
    G-SimCLR: Self-Supervised Contrastive Learning with Guided Projection via Pseudo
    Labelling
hydra                 | 2024 | arXiv                           | 59
    Rethinking Positive Pairs in Contrastive Learning
hallucinator          | 2023 | ICCV 2023                       | 48
    Hallucination Improves the Performance of Unsupervised Visual Representation Learning
adainf                | 2024 | ICLR 2024                       | 24
    Do Generated Data Always Help Contrastive Learning?
mlvgm_views           | 2025 | TMLR                            | 27
    A Mutual Information Perspective on Multiple Latent Variable Generative Models for
    Positive View Generation
cmim                  | 2025 |                                 | 38
    cMIM: A Contrastive Mutual Information Framework (and its later version, Contrastive
    Mutual Information Learning)
blto                  | 2024 | ICLR 2024                       | 51
    Backdoor Contrastive Learning via Bi-level Trigger Optimization
# 03_clusters_prototypes | Clusters and prototypes
mlcd                  | 2024 | ECCV 2024                       | 10
    Multi-label Cluster Discrimination for Visual Representation Learning
c3gan                 | 2022 | ICLR 2022                       | 1
    Contrastive Fine-grained Class Clustering via Generative Adversarial Networks
gpc                   | 2023 | ICCV 2023                       | 33
    Learning Semi-supervised Gaussian Mixture Models for Generalized Category Discovery
obow                  | 2021 | CVPR 2021                       | 18
    OBoW: Online Bag-of-Visual-Words Generation for Self-Supervised Learning
mugs                  | 2022 |                                 | 14
    Mugs: A Multi-Granular Self-Supervised Learning Framework
slotcon               | 2022 | NeurIPS 2022                    | 55
    Self-Supervised Visual Representation Learning with Semantic Grouping
pixel_prototype       | 2022 | CVPR 2022                       | 8
    Weakly Supervised Semantic Segmentation by Pixel-to-Prototype Contrast
joint_image_volume    | 2023 | AAAI 2023                       | 39
    Joint Self-Supervised Image-Volume Representation Learning with Intra-Inter Contrastive
    Clustering
theme_transformer     | 2021 | IEEE Transactions on Multimedia | 26
    Theme Transformer: Symbolic Music Generation with Theme-Conditioned Transformer
# 04_masked_hybrids | Masked, generative and robust hybrids
fsfm                  | 2025 | CVPR 2025                       | 13
    FSFM: A Generalizable Face Security Foundation Model via Self-Supervised Facial
    Representation Learning
croco_v2              | 2023 | ICCV 2023                       | 15
    CroCo v2: Improved Cross-view Completion Pre-training for Stereo Matching and Optical
    Flow
mixedae               | 2023 | CVPR 2023                       | 17
    Mixed Autoencoder for Self-supervised Visual Representation Learning
crossvideomae         | 2025 |                                 | 62
    CrossVideoMAE: Self-Supervised Image-Video Representation Learning with Masked
    Autoencoders
rrcm                  | 2025 |                                 | 12
    Robust Representation Consistency Model via Contrastive Denoising
# 05_dense_3d_spectral | Dense, 3-D and spectral
pixpro                | 2021 | CVPR 2021                       | 49
    Propagate Yourself: Exploring Pixel-Level Consistency for Unsupervised Visual
    Representation Learning
gemini                | 2025 | arXiv                           | 20
    Homeomorphism Prior for False Positive and Negative Problem in Medical Image Dense
    Contrastive Representation Learning
fac                   | 2023 | CVPR 2023                       | 41
    FAC: 3D Representation Learning via Foreground Aware Feature Contrast
trend                 | 2024 | arXiv                           | 63
    TREND: Unsupervised 3D Representation Learning via Temporal Forecasting for LiDAR
    Perception
cross_view_prediction | 2022 |                                 | 7
    Cross-View-Prediction: Exploring Contrastive Feature for Hyperspectral Image
    Classification
text_pointcloud       | 2023 |                                 | 54
    Joint Representation Learning for Text and 3D Point Cloud
# 06_video_time_decisions | Video, time and decisions
fame                  | 2022 | CVPR 2022                       | 2
    Motion-aware Contrastive Video Representation Learning via Foreground-background Merging
cvrl                  | 2021 | CVPR 2021                       | 28
    Spatiotemporal Contrastive Video Representation Learning
ctvis                 | 2023 | ICCV 2023                       | 19
    CTVIS: Consistent Training for Online Video Instance Segmentation
x_ego                 | 2025 |                                 | 29
    X-Ego: Cross-Egocentric Contrastive Video Representation Learning
videoqa_contrast      | 2021 | AAAI 2021                       | 21
    Self-supervised pre-training and contrastive representation learning for multiple-choice
    video QA
video_rl              | 2024 | ICLR 2024                       | 52
    Towards Principled Representation Learning from Videos for Reinforcement Learning
comet                 | 2023 | NeurIPS 2023                    | 25
    Contrast Everything: A Hierarchical Contrastive Framework for Medical Time-Series
contrastive_ucb       | 2022 | ICML 2022                       | 32
    Contrastive UCB: Provably Efficient Contrastive Self-Supervised Learning in Online RL
speech_ssl            | 2022 | IEEE JSTSP 2022                 | 56
    Self-Supervised Speech Representation Learning: A Review (contrastive core: CPC /
    wav2vec 2.0)
cogenav               | 2025 |                                 | 37
    CoGenAV: Versatile Audio-Visual Representation Learning via Contrastive-Generative
    Synchronization
# 07_multimodal | Multimodal alignment
declip                | 2022 | ICLR 2022                       | 3
    Supervision Exists Everywhere: A Data Efficient Contrastive Language-Image Pre-training
    Paradigm
m5product             | 2022 | CVPR 2022                       | 4
    M5Product: Self-harmonized Contrastive Learning for E-commercial Multi-modal Pretraining
unimo                 | 2021 | ACL 2021                        | 6
    UNIMO: Towards Unified-Modal Understanding and Generation via Cross-Modal Contrastive
    Learning
mplug2                | 2023 | ICML 2023                       | 16
    mPLUG-2: A Modularized Multi-modal Foundation Model Across Text, Image and Video
clsr                  | 2023 |                                 | 23
    Contrastive Latent Space Reconstruction Learning for Audio-Text Retrieval
symile                | 2024 | NeurIPS 2024                    | 46
    Contrasting with Symile: Simple Model-Agnostic Representation Learning for Unlimited
    Modalities
gram                  | 2025 | ICLR 2025                       | 47
    Gramian Multimodal Representation Learning and Alignment
tcl                   | 2022 | CVPR 2022                       | 57
    Vision-Language Pre-Training with Triple Contrastive Learning
albef                 | 2021 | NeurIPS 2021                    | 65
    Align before Fuse: Vision and Language Representation Learning with Momentum
    Distillation
hbi                   | 2023 | CVPR 2023                       | 45
    Video-Text as Game Players: Hierarchical Banzhaf Interaction for Cross-Modal
    Representation Learning
modx                  | 2023 | ICML 2023                       | 61
    Continual Vision-Language Representation Learning with Off-Diagonal Information
creamfl               | 2023 | ICLR 2023                       | 36
    Multimodal Federated Learning via Contrastive Representation Ensemble
voltron               | 2023 | RSS 2023                        | 53
    Language-Driven Representation Learning for Robotics
# 08_language | Language
multicsr              | 2024 | NAACL 2024                      | 30
    Large Language Models can Contrastively Refine their Generation for Better Sentence
    Representation Learning
dialog2flow           | 2024 | EMNLP 2024                      | 34
    Dialog2Flow: Pre-training Soft-Contrastive Action-Driven Sentence Embeddings
grace                 | 2026 | ICLR 2026                       | 35
    GRACE: Generative Representation Learning via Contrastive Policy Optimization
amr_le                | 2024 | Findings of ACL 2024            | 44
    Contrastive Learning with Logic-driven Data Augmentation for Logical Reasoning over Text
# 09_graphs_molecules | Graphs and molecules
gcool                 | 2022 | The Web Conference 2022         | 42
    Graph Communal Contrastive Learning
circuitgcl            | 2025 |                                 | 43
    Transferable Parasitic Estimation via Graph Contrastive Learning and Label Rebalancing
    in AMS Circuits
kcl                   | 2022 | AAAI 2022                       | 40
    Molecular Contrastive Learning with Chemical Element Knowledge Graph
# 10_people_domains_lifelong | People, domains and lifelong learning
ucr                   | 2022 |                                 | 5
    Unsupervised Lifelong Person Re-identification via Contrastive Rehearsal
isr                   | 2023 | ICCV 2023                       | 60
    Identity-Seeking Self-Supervised Representation Learning for Generalizable Person
    Re-identification
sepclr                | 2024 | ICLR 2024                       | 22
    Separating common from salient patterns with Contrastive Representation Learning
"""

# Authors and links we know confidently (foundations, and arXiv ids named in the cards).
_AUTHORS_URLS: dict[str, tuple[str, str]] = {
    "simclr": (
        "Ting Chen, Simon Kornblith, Mohammad Norouzi, Geoffrey Hinton",
        "https://arxiv.org/abs/2002.05709",
    ),
    "align_uniform": ("Tongzhou Wang, Phillip Isola", "https://arxiv.org/abs/2005.10242"),
    "wang_liu": ("Feng Wang, Huaping Liu", "https://arxiv.org/abs/2012.09740"),
    "moco": (
        "Xinlei Chen, Haoqi Fan, Ross Girshick, Kaiming He",
        "https://arxiv.org/abs/2003.04297",
    ),
    "byol_simsiam": (
        "Jean-Bastien Grill et al.; Xinlei Chen, Kaiming He",
        "https://arxiv.org/abs/2006.07733",
    ),
    "supcon": ("Prannay Khosla et al.", "https://arxiv.org/abs/2004.11362"),
    "clip": ("Alec Radford et al.", "https://arxiv.org/abs/2103.00020"),
    "swav_dino": (
        "Mathilde Caron et al.; Mathilde Caron et al.",
        "https://arxiv.org/abs/2006.09882",
    ),
    "barlow_vicreg": (
        "Jure Zbontar, Li Jing, Ishan Misra, Yann LeCun, Stéphane Deny; Adrien Bardes, Jean Ponce, "
        "Yann LeCun",
        "https://arxiv.org/abs/2103.03230",
    ),
    "mae": (
        "Kaiming He, Xinlei Chen, Saining Xie, Yanghao Li, Piotr Dollár, Ross Girshick",
        "https://arxiv.org/abs/2111.06377",
    ),
    "ifnd": (
        "Tsai-Shien Chen, Wei-Chih Hung, Hung-Yu Tseng, Shao-Yi Chien, Ming-Hsuan Yang",
        "https://arxiv.org/abs/2106.03719",
    ),
    "cacr": (
        "Huangjie Zheng, Xu Chen, Jiangchao Yao, Hongxia Yang, Chunyuan Li, Ya Zhang, Hao Zhang, "
        "Ivor Tsang, Jingren Zhou, Mingyuan Zhou",
        "https://arxiv.org/abs/2105.03746",
    ),
    "g_simclr": (
        "Souradip Chakraborty, Aritra Roy Gosthipaty, Sayak Paul",
        "https://arxiv.org/abs/2009.12007",
    ),
    "cmim": ("Micha Livne", "https://arxiv.org/abs/2502.19642"),
    "modx": (
        "Zixuan Ni, Longhui Wei, Siliang Tang, Yueting Zhuang, Qi Tian",
        "https://arxiv.org/abs/2305.07437",
    ),
    "creamfl": (
        "Qiying Yu, Yang Liu, Yimu Wang, Ke Xu, Jingjing Liu",
        "https://arxiv.org/abs/2302.08888",
    ),
    "declip": (
        "Yangguang Li, Feng Liang, Lichen Zhao, Yufeng Cui, Wanli Ouyang, Jing Shao, Fengwei Yu, "
        "Junjie Yan",
        "https://arxiv.org/abs/2110.05208",
    ),
    "albef": (
        "Junnan Li, Ramprasaath R. Selvaraju, Akhilesh Deepak Gotmare, Shafiq Joty, Caiming Xiong, "
        "Steven Hoi",
        "https://arxiv.org/abs/2107.07651",
    ),
    "unimo": (
        "Wei Li, Can Gao, Guocheng Niu, Xinyan Xiao, Hao Liu, Jiachen Liu, Hua Wu, Haifeng Wang",
        "https://arxiv.org/abs/2012.15409",
    ),
    "mplug2": ("Haiyang Xu, Qinghao Ye, Ming Yan et al.", "https://arxiv.org/abs/2302.00402"),
    "tcl": (
        "Jinyu Yang, Jiali Duan, Son Tran, Yi Xu, Sampath Chanda, Liqun Chen, Belinda Zeng, "
        "Trishul Chilimbi, Junzhou Huang",
        "https://arxiv.org/abs/2202.10401",
    ),
    "hallucinator": (
        "Jing Wu, Jennifer Hobbs, Naira Hovakimyan",
        "https://arxiv.org/abs/2307.12168",
    ),
    "hydra": ("Jiantao Wu et al.", "https://arxiv.org/abs/2410.18200"),
    "obow": (
        "Spyros Gidaris, Andrei Bursuc, Gilles Puy, Nikos Komodakis, Matthieu Cord, Patrick Pérez",
        "https://arxiv.org/abs/2012.11552",
    ),
    "mugs": ("Pan Zhou et al.", "https://arxiv.org/abs/2203.14415"),
    "voltron": (
        "Siddharth Karamcheti, Suraj Nair, Annie S. Chen, Thomas Kollar, Chelsea Finn, "
        "Dorsa Sadigh, Percy Liang",
        "https://arxiv.org/abs/2302.12766",
    ),
    "trend": ("", "https://arxiv.org/abs/2412.03054"),
    "grace": ("", "https://arxiv.org/abs/2510.04506"),
    "c3gan": ("Yunji Kim, Jung-Woo Ha", "https://arxiv.org/abs/2112.14971"),
    "joint_image_volume": ("Duy M. H. Nguyen et al.", "https://arxiv.org/abs/2212.01893"),
    "slotcon": (
        "Xin Wen, Bingchen Zhao, Anlin Zheng, Xiangyu Zhang, Xiaojuan Qi",
        "https://arxiv.org/abs/2205.15288",
    ),
    "pixel_prototype": (
        "Ye Du, Zehua Fu, Qingjie Liu, Yunhong Wang",
        "https://arxiv.org/abs/2110.07110",
    ),
    "adainf": ("Yifei Wang, Jizhe Zhang, Yisen Wang", "https://arxiv.org/abs/2403.12448"),
    "mlvgm_views": ("Dario Serez et al.", "https://arxiv.org/abs/2501.13718"),
    "hbi": ("Peng Jin et al.", "https://arxiv.org/abs/2303.14369"),
    "theme_transformer": (
        "Yi-Jen Shih, Shih-Lun Wu, Frank Zalkow, Meinard Müller, Yi-Hsuan Yang",
        "https://arxiv.org/abs/2111.04093",
    ),
    "blto": ("Weiyu Sun et al.", "https://arxiv.org/abs/2404.07863"),
}


@dataclass(frozen=True)
class Entry:
    """One notebook of the suite and the paper it reproduces.

    Attributes:
        key: Short name used for the notebook file, method module and claims record.
        title: Paper title (for ``start_here``, what the notebook covers).
        authors: Author list, or "" where not recorded.
        year: Year of the venue (or of first appearance); None for ``start_here``.
        venue: Venue, e.g. "ICML 2020"; "arXiv" for preprints; "" where unknown.
        chapter: Chapter number, 1..10.
        chapter_title: Chapter title, e.g. "Foundations".
        card: Number of the paper card in the project's ``papers/cards_*.md``, or None.
        notebook: Notebook path relative to the repository root.
        method: Dotted module path of the method, or None (``start_here``).
        status: "done" if the notebook has landed (see ``DONE``), else "planned".
        url: Link to the paper (arXiv abstract) where known, else "".
    """

    key: str
    title: str
    authors: str
    year: int | None
    venue: str
    chapter: int
    chapter_title: str
    card: int | None
    notebook: str
    method: str | None
    status: str
    url: str = ""


def _parse(table: str) -> tuple[dict[int, str], dict[int, str], tuple[Entry, ...]]:
    chapters: dict[int, str] = {}
    folders: dict[int, str] = {}
    entries: list[Entry] = []
    for line in table.strip().splitlines():
        if line.startswith("# "):
            folder, title = (s.strip() for s in line[2:].split("|"))
            chapter = int(folder[:2])
            chapters[chapter], folders[chapter], number = title, folder, 0
        elif line.startswith("    "):
            title = f"{entries[-1].title} {line.strip()}".strip()
            entries[-1] = dataclasses.replace(entries[-1], title=title)
        else:
            key, year, venue, card = (s.strip() for s in line.split("|"))
            if key == "start_here":  # lives outside the chapter folders, takes no number
                notebook, method = START_HERE_NOTEBOOK, None
            else:
                number += 1
                notebook = f"notebooks/{folder}/{number:02d}_{key}.ipynb"
                method = f"contrastkit.methods.{key}"
            authors, url = _AUTHORS_URLS.get(key, ("", ""))
            status = "done" if key in DONE else "planned"
            year_, card_ = int(year) if year else None, int(card) if card else None
            entries.append(
                Entry(key, "", authors, year_, venue, chapter, chapters[chapter], card_,
                      notebook, method, status, url)
            )  # fmt: skip
    return chapters, folders, tuple(entries)


#: Chapter number -> title; chapter number -> notebook folder; every entry in reading order.
CHAPTERS, CHAPTER_DIRS, ENTRIES = _parse(_TABLE)
_BY_KEY: dict[str, Entry] = {e.key: e for e in ENTRIES}
assert len(_BY_KEY) == len(ENTRIES), "duplicate key in the catalog"
assert DONE <= _BY_KEY.keys(), f"DONE names unknown keys: {sorted(DONE - _BY_KEY.keys())}"
assert _AUTHORS_URLS.keys() <= _BY_KEY.keys(), "_AUTHORS_URLS names an unknown key"


def keys() -> list[str]:
    """Return every key, in reading order."""
    return [e.key for e in ENTRIES]


def get(key: str) -> Entry:
    """Return the entry for ``key``.

    Args:
        key: A catalog key such as ``"simclr"``.

    Returns:
        The matching :class:`Entry`.

    Raises:
        KeyError: If ``key`` is not in the catalog; the message lists close matches.
    """
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(key), _BY_KEY, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "see `contrastkit list`"
        raise KeyError(f"unknown catalog key {key!r}; {hint}") from None


def by_chapter() -> dict[int, list[Entry]]:
    """Return the entries grouped by chapter number (1..10), each list in reading order."""
    groups: dict[int, list[Entry]] = {c: [] for c in CHAPTERS}
    for e in ENTRIES:
        groups[e.chapter].append(e)
    return groups


def as_dicts() -> list[dict]:
    """Return every entry as a plain dict (JSON-ready), in reading order."""
    return [dataclasses.asdict(e) for e in ENTRIES]


def notebook_number(entry: Entry) -> str:
    """Return the two-digit number of an entry's notebook ("00" for ``start_here``)."""
    return entry.notebook.rsplit("/", 1)[-1][:2]


def notebook_markdown_list() -> str:
    """Return a Markdown list of all notebooks grouped by chapter, for the README.

    Each line reads ``NN key — title (year) — status``, the key linking to the notebook.
    """
    lines: list[str] = []
    for chapter, entries in by_chapter().items():
        lines += [*([""] if lines else []), f"### {chapter:02d} {CHAPTERS[chapter]}", ""]
        for e in entries:
            year = f" ({e.year})" if e.year else ""
            link = f"[`{e.key}`]({e.notebook})"
            lines.append(f"- {notebook_number(e)} {link} — {e.title}{year} — {e.status}")
    return "\n".join(lines) + "\n"
