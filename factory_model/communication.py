"""Collective and point-to-point communication times (seconds), vectorised.

Bandwidth terms follow nccl-tests' bus-bandwidth formulas (anchors-modelling §2.7), with S the message bytes,
n the ranks and BW the per-GPU one-direction link bandwidth times an achieved ``link_fraction``:

    all-reduce     t = α + α_doubling · log2(n) + 2(n−1)/n · S / BW
    all-to-all     t = α + (n−1)/n · V / BW          (V = bytes each GPU sends)
    send/recv      t = α + S / BW

A group that fits in the scale-up domain (NVLink/NVSwitch, up to ``scale_up_domain_gpus``) uses the scale-up
bandwidth and the ``allreduce``/``alltoall`` factors; a larger group is limited by the scale-out network and
uses the ``*_scaleout`` factors. Groups of one rank cost nothing. The all-reduce start-up grows with log2 of the
ranks: one-shot and tree all-reduces take log-depth synchronisation steps, and every rank waits for the slowest
(an isolated 8-GPU custom all-reduce takes 5 µs, anchors-modelling §2.7; in a serving step the per-layer
overhead rises from tp=2 to tp=8, §3.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinkFactors:
    """Bandwidths (bytes/s, one direction, per GPU) and factors for one system."""

    scale_up_bytes_per_s: float
    scale_out_bytes_per_s: float
    domain_gpus: int
    allreduce_alpha_s: float
    allreduce_alpha_per_doubling_s: float
    allreduce_fraction: float
    allreduce_scaleout_alpha_s: float
    allreduce_scaleout_alpha_per_doubling_s: float
    allreduce_scaleout_fraction: float
    alltoall_alpha_s: float
    alltoall_fraction: float
    alltoall_scaleout_alpha_s: float
    alltoall_scaleout_fraction: float
    p2p_alpha_s: float
    scale_up_peer_bytes_per_s: float = 0.0  # point-to-point mesh (AMD): one link per peer; 0 = switched


def scale_up_rate(ranks, links: LinkFactors) -> np.ndarray:
    """Per-GPU scale-up bytes/s a collective over ``ranks`` GPUs can use: the full bandwidth behind a switch;
    in a point-to-point mesh only the links to the n − 1 peers taking part (min(aggregate, (n−1)·peer))."""
    ranks = np.asarray(ranks, dtype=float)
    if not links.scale_up_peer_bytes_per_s:
        return np.full(ranks.shape, links.scale_up_bytes_per_s)
    return np.minimum(links.scale_up_bytes_per_s, np.maximum(ranks - 1.0, 1.0) * links.scale_up_peer_bytes_per_s)


def _split(ranks, links: LinkFactors, inside: tuple[float, float], outside: tuple[float, float]):
    in_domain = ranks <= links.domain_gpus
    alpha = np.where(in_domain, inside[0], outside[0])
    bandwidth = np.where(in_domain, scale_up_rate(ranks, links) * inside[1], links.scale_out_bytes_per_s * outside[1])
    return alpha, bandwidth


def allreduce_time(message_bytes, ranks, links: LinkFactors) -> tuple[np.ndarray, np.ndarray]:
    """(latency part, bandwidth part) of an all-reduce of ``message_bytes`` over ``ranks`` GPUs."""
    ranks = np.asarray(ranks, dtype=float)
    alpha, bandwidth = _split(ranks, links, (links.allreduce_alpha_s, links.allreduce_fraction),
                              (links.allreduce_scaleout_alpha_s, links.allreduce_scaleout_fraction))
    doubling = np.where(ranks <= links.domain_gpus, links.allreduce_alpha_per_doubling_s,
                        links.allreduce_scaleout_alpha_per_doubling_s)
    alpha = alpha + doubling * np.log2(np.maximum(ranks, 1.0))
    active = ranks > 1
    transfer = 2.0 * (ranks - 1) / np.maximum(ranks, 1) * message_bytes / bandwidth
    return np.where(active, alpha, 0.0), np.where(active, transfer, 0.0)


def alltoall_time(bytes_per_gpu, ranks, links: LinkFactors) -> tuple[np.ndarray, np.ndarray]:
    """(latency part, bandwidth part) of an all-to-all in which each GPU sends ``bytes_per_gpu``."""
    ranks = np.asarray(ranks, dtype=float)
    alpha, bandwidth = _split(ranks, links, (links.alltoall_alpha_s, links.alltoall_fraction),
                              (links.alltoall_scaleout_alpha_s, links.alltoall_scaleout_fraction))
    active = ranks > 1
    transfer = (ranks - 1) / np.maximum(ranks, 1) * bytes_per_gpu / bandwidth
    return np.where(active, alpha, 0.0), np.where(active, transfer, 0.0)


def p2p_time(message_bytes, crosses_domain, links: LinkFactors) -> tuple[np.ndarray, np.ndarray]:
    """(latency part, bandwidth part) of one pipeline-stage hand-off of ``message_bytes``."""
    bandwidth = np.where(crosses_domain, links.scale_out_bytes_per_s,
                         links.scale_up_peer_bytes_per_s or links.scale_up_bytes_per_s)
    return np.full(np.shape(message_bytes), links.p2p_alpha_s), message_bytes / bandwidth


def alltoall_two_level_time(copy_bytes, rank_copies, node_copies, ranks, links: LinkFactors):
    """(latency part, bandwidth part) of an EP all-to-all that may span scale-up domains (DeepEP-style).

    Each GPU sends ``copy_bytes`` per copy. Inside one scale-up domain every destination rank gets a copy over
    the scale-up links (``rank_copies`` per token, de-duplicated per rank). Across domains a token crosses the
    network once per remote destination domain (``node_copies``, de-duplicated per node) and is forwarded over
    the scale-up links there; both links run at once, so the slower sets the time:
    ``t = α + max(rank_copies · S / BW_up, node_copies · S / BW_out)`` (anchors-modelling §2.7).
    """
    ranks = np.asarray(ranks, dtype=float)
    inside = ranks <= links.domain_gpus
    up = rank_copies * copy_bytes / (scale_up_rate(np.minimum(ranks, links.domain_gpus), links)
                                     * links.alltoall_fraction)
    out = node_copies * copy_bytes / (links.scale_out_bytes_per_s * links.alltoall_scaleout_fraction)
    alpha = np.where(inside, links.alltoall_alpha_s, links.alltoall_scaleout_alpha_s)
    transfer = np.where(inside, (ranks - 1) / np.maximum(ranks, 1) * up, np.maximum(up, out))
    active = ranks > 1
    return np.where(active, alpha, 0.0), np.where(active, transfer, 0.0)
