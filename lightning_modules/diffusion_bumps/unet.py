"""Conditional UNet epsilon-predictor for the Gaussian-bump diffusion model (spec sections 2.3-2.4).

Conditioning: sinusoidal encodings of t, scale * x and scale * y are concatenated, passed through an
MLP, and the resulting embedding is added as a per-channel bias in every residual block (down, middle
and up). Down/up stages (average-pool down, nearest up) with skip connections; multi-head
self-attention in the middle block (at the lowest resolution) and at the resolutions listed in
`attention_resolutions`.

`ConditionalUNet.mid` is the bottleneck (the default layer for latent analyses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from neurobolts.plugins.checks import check_positive_int, is_integer


def sinusoidal_encoding(values: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer-style sin/cos encoding of a batch of scalars: (B,) -> (B, dim), dim even."""
    if dim % 2 != 0:
        raise ValueError(f"encoding dim must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=values.device) / half)
    angles = values.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def _groups(channels: int, max_groups: int = 8) -> int:
    for g in range(min(max_groups, channels), 0, -1):
        if channels % g == 0:
            return g
    return 1


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, conditioning embedding added as a channel bias, residual skip."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(in_ch), in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_ch)
        self.norm2 = nn.GroupNorm(_groups(out_ch), out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the H*W positions, pre-norm, residual."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        if channels % heads != 0:
            raise ValueError(f"attention channels {channels} not divisible by heads {heads}")
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        out, _ = self.attn(seq, seq, seq, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class UNetStage(nn.Module):
    """One resolution level: a residual block, optionally followed by self-attention."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, attention_heads: int | None) -> None:
        super().__init__()
        self.res = ResBlock(in_ch, out_ch, emb_dim)
        self.attn = SelfAttention(out_ch, attention_heads) if attention_heads else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.attn(self.res(x, emb))


class MiddleBlock(nn.Module):
    """Bottleneck: residual block, self-attention, residual block."""

    def __init__(self, channels: int, emb_dim: int, heads: int) -> None:
        super().__init__()
        self.res1 = ResBlock(channels, channels, emb_dim)
        self.attn = SelfAttention(channels, heads)
        self.res2 = ResBlock(channels, channels, emb_dim)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.res2(self.attn(self.res1(x, emb)), emb)


class ConditionEmbedding(nn.Module):
    """e = MLP(concat(PE(t), PE(s * x), PE(s * y))): one embedding fed to every block."""

    def __init__(self, encoding_dim: int, emb_dim: int, position_scale: float) -> None:
        super().__init__()
        self.encoding_dim = encoding_dim
        self.position_scale = position_scale
        self.mlp = nn.Sequential(nn.Linear(3 * encoding_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))

    def forward(self, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        parts = [
            sinusoidal_encoding(t, self.encoding_dim),
            sinusoidal_encoding(self.position_scale * cond[:, 0], self.encoding_dim),
            sinusoidal_encoding(self.position_scale * cond[:, 1], self.encoding_dim),
        ]
        return self.mlp(torch.cat(parts, dim=1))


class ConditionalUNet(nn.Module):
    """UNet epsilon(x_t, t, (x, y)).

    Args:
        image_size: N; must be divisible by 2 ** (len(channels) - 1).
        channels: channel width at each resolution level; len(channels) - 1 downsamplings.
        attention_resolutions: resolutions (in pixels) at which stages get self-attention.
        attention_heads: heads of every attention layer.
        encoding_dim: sin/cos dims per conditioning variable (t, x, y).
        emb_dim: width of the conditioning embedding.
        position_scale: s in PE(s * x), so that adjacent positions are distinguishable.
        in_channels: image channels.
    """

    def __init__(
        self,
        image_size: int = 16,
        channels: Sequence[int] = (16, 32, 32),
        attention_resolutions: Sequence[int] = (),
        attention_heads: int = 2,
        encoding_dim: int = 32,
        emb_dim: int = 128,
        position_scale: float = 4.0,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        channels = list(channels)
        if not channels:
            raise ValueError(f"channels must be a non-empty list of integers >= 1, got {channels}")
        for i, width in enumerate(channels):
            check_positive_int(f"channels[{i}]", width)
        n_down = len(channels) - 1
        if not is_integer(image_size) or image_size < 1 or image_size % 2**n_down != 0:
            raise ValueError(f"image_size must be a positive multiple of {2**n_down} (the UNet downsamples it "
                             f"{n_down} times, channels={channels}), got {image_size!r}")
        self.image_size = image_size
        self.cond_embedding = ConditionEmbedding(encoding_dim, emb_dim, position_scale)
        self.inc = nn.Conv2d(in_channels, channels[0], 3, padding=1)

        resolutions = [image_size // 2**i for i in range(len(channels))]

        def heads_at(res: int) -> int | None:
            return attention_heads if res in set(attention_resolutions) else None

        self.down_stages = nn.ModuleList()
        prev = channels[0]
        for ch, res in zip(channels, resolutions, strict=True):
            self.down_stages.append(UNetStage(prev, ch, emb_dim, heads_at(res)))
            prev = ch
        self.mid = MiddleBlock(channels[-1], emb_dim, attention_heads)
        self.up_stages = nn.ModuleList()
        for level in reversed(range(len(channels))):
            ch = channels[level]
            self.up_stages.append(UNetStage(prev + ch, ch, emb_dim, heads_at(resolutions[level])))
            prev = ch
        self.out = nn.Sequential(nn.GroupNorm(_groups(prev), prev), nn.SiLU(), nn.Conv2d(prev, in_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        emb = self.cond_embedding(t, cond)
        h = self.inc(x)
        skips = []
        for level, stage in enumerate(self.down_stages):
            h = stage(h, emb)
            skips.append(h)
            if level < len(self.down_stages) - 1:
                h = F.avg_pool2d(h, 2)
        h = self.mid(h, emb)
        for i, stage in enumerate(self.up_stages):
            h = stage(torch.cat([h, skips.pop()], dim=1), emb)
            if i < len(self.up_stages) - 1:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        return self.out(h)
