"""Fusion transformer and the complete audio-visual synchronisation model (``sync_model.pth``).

The fusion transformer (prefix ``transformer.``) turns a video embedding (B, 512, 5, 14, 14) into 5 video
tokens and an audio embedding (B, 512, 4) into 4 audio tokens, then either

* scores the pair: [cls, 4 audio, 5 video] through a 3-layer pre-norm ViT, logit from the cls token
  (the authors' ``MP_AViT``), or
* returns the audio-visual feature: max over the video tokens and over the audio tokens, concatenated,
  1024-d (the authors' ``MP_av_feature_AViT``, loaded from the same checkpoint).

The two halves are split here (:meth:`FusionTransformer.video_tokens`, :meth:`audio_tokens`,
:meth:`sync_logit`, :meth:`av_feature`) so the detector can compute each token set once and pair it with
many others. Nothing is modified in place: shared embeddings must stay intact across pairs.
"""

from __future__ import annotations

import torch
from torch import nn

from core.avforensics.audio_encoder import AudioEncoder
from core.avforensics.video_encoder import VideoEncoder


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.scale = dim_head**-0.5
        self.to_qkv = nn.Linear(dim, dim_head * heads * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim_head * heads, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        q, k, v = (t.reshape(batch, tokens, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
        attention = (torch.matmul(q, k.transpose(-1, -2)) * self.scale).softmax(dim=-1)
        out = torch.matmul(attention, v).transpose(1, 2).reshape(batch, tokens, -1)
        return self.to_out(out)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_dim, dim), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PreNorm(dim, SelfAttention(dim, heads, dim_head, dropout)),
                    PreNorm(dim, FeedForward(dim, mlp_dim, dropout)),
                ]
            )
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attention, feed_forward in self.layers:
            x = attention(x) + x
            x = feed_forward(x) + x
        return x


class FusionTransformer(nn.Module):
    """Scores one (5-frame video, 5-frame audio) pair; also yields the pair's 1024-d audio-visual feature."""

    def __init__(
        self,
        dim: int = 512,
        depth: int = 3,
        heads: int = 4,
        dim_head: int = 128,
        mlp_dim: int = 512,
        feature_map_size: int = 14,
        video_len: int = 5,
        audio_len: int = 4,
        num_classes: int = 1,
    ) -> None:
        super().__init__()
        # The authors draw these from randn; the checkpoint overwrites them. ("embeding" is their spelling.)
        self.pos_embedding = nn.Parameter(torch.randn(1, dim, 1, feature_map_size, feature_map_size))
        self.visual_modality_embeding = nn.Parameter(torch.randn(1, dim, 1))
        self.audio_modality_embeding = nn.Parameter(torch.randn(1, dim, 1))
        self.temporal_visual_embedding = nn.Parameter(torch.randn(1, dim, video_len))
        self.temporal_audio_embedding = nn.Parameter(torch.randn(1, dim, audio_len))
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.transformer = Transformer(dim, depth, heads, dim_head, mlp_dim)
        self.mlp_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))

    def video_tokens(self, video_embedding: torch.Tensor) -> torch.Tensor:
        """(B, dim, T, h, w) -> (B, T, dim): spatial max after the position embedding, then time/modality embeddings."""
        batch, dim, steps = video_embedding.shape[:3]
        x = (video_embedding + self.pos_embedding).amax(dim=(3, 4))
        x = x + self.temporal_visual_embedding[:, :, :steps]
        x = x + self.visual_modality_embeding
        # A reshape, not a transpose: the weights were trained on this (dim, T) -> (T, dim) memory reinterpretation.
        return x.reshape(batch, steps, dim)

    def audio_tokens(self, audio_embedding: torch.Tensor) -> torch.Tensor:
        """(B, dim, T) -> (B, T, dim), with the same reshape convention as the video tokens."""
        batch, dim, steps = audio_embedding.shape
        x = audio_embedding + self.temporal_audio_embedding[:, :, :steps]
        x = x + self.audio_modality_embeding
        return x.reshape(batch, steps, dim)

    def sync_logit(self, video_tokens: torch.Tensor, audio_tokens: torch.Tensor) -> torch.Tensor:
        """Pairs of token sets (B, 5, dim), (B, 4, dim) -> (B,) synchronisation logits."""
        cls = self.cls_token.expand(video_tokens.shape[0], -1, -1)
        x = self.transformer(torch.cat((cls, audio_tokens, video_tokens), dim=1))
        return self.mlp_head(x[:, 0]).squeeze(-1)

    @staticmethod
    def av_feature(video_tokens: torch.Tensor, audio_tokens: torch.Tensor) -> torch.Tensor:
        """Pairs of token sets -> (B, 2 * dim) feature: [max over video tokens, max over audio tokens]."""
        return torch.cat((video_tokens.amax(dim=1), audio_tokens.amax(dim=1)), dim=1)

    def forward(self, video_embedding: torch.Tensor, audio_embedding: torch.Tensor) -> torch.Tensor:
        return self.sync_logit(self.video_tokens(video_embedding), self.audio_tokens(audio_embedding))


class SyncModel(nn.Module):
    """The whole ``sync_model.pth``: ``vis_enc`` + ``aud_enc`` + ``transformer`` (keys match the checkpoint)."""

    def __init__(self, feature_map_size: int = 14, width_div: int = 1) -> None:
        super().__init__()
        # width_div > 1 divides every width (same layers and key names, smaller shapes) for CPU-sized runs.
        self.vis_enc = VideoEncoder(widths=tuple(w // width_div for w in (64, 128, 256, 512)))
        self.aud_enc = AudioEncoder(512 // width_div, tuple(w // width_div for w in (64, 192, 384, 256, 256)))
        # 14 for 224x224 frames (the official model); tests use smaller frames with a smaller map.
        self.transformer = FusionTransformer(
            dim=512 // width_div, dim_head=128 // width_div, mlp_dim=512 // width_div, feature_map_size=feature_map_size
        )

    def forward(self, video: torch.Tensor, log_mel: torch.Tensor) -> torch.Tensor:
        """Reference-style call on matching pairs: (B, 3, 5, H, W) clips and (B, 1, 80, 20) log-mels -> (B,) logits."""
        return self.transformer(self.vis_enc(video), self.aud_enc(log_mel))

    def av_feature(self, video: torch.Tensor, log_mel: torch.Tensor) -> torch.Tensor:
        """Reference-style audio-visual feature of matching pairs -> (B, 1024)."""
        return self.transformer.av_feature(
            self.transformer.video_tokens(self.vis_enc(video)), self.transformer.audio_tokens(self.aud_enc(log_mel))
        )
