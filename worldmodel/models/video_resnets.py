"""torchvision's video ResNets as clip encoders: 3-D convolutions over the clip, weights from a local file.

R3D-18, MC3-18 and R(2+1)D-18 (Tran et al., CVPR 2018) read a clip as a (C, T, H, W) volume, so the
convolutions see time directly instead of frames stacked as channels. torchvision ships their
Kinetics-400 weights; this encoder never downloads them: save such a state dict as safetensors
(``safetensors.torch.save_file(r3d_18(weights="KINETICS400_V1").state_dict(), "r3d_18.safetensors")``
on a machine with network access) and name the file in ``model.encoder.weights``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models.video import mc3_18, r2plus1d_18, r3d_18

from worldmodel.models.video_encoders import embedding_head
from worldmodel.models.backbones import FreezableBackbone, load_backbone_weights
from worldmodel.models.vit import as_clips, clip_shape

ARCHITECTURES = {"r3d_18": r3d_18, "mc3_18": mc3_18, "r2plus1d_18": r2plus1d_18}
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)  # torchvision's normalisation for its Kinetics-400 weights
KINETICS_STD = (0.22803, 0.22145, 0.216989)


class VideoResNetEncoder(FreezableBackbone):
    """A torchvision video ResNet on the whole clip: (B, k, C, H, W) → (B, out_dim).

    The clip enters as (B, 3, k, H, W), scaled to [0, 1] and normalised by the Kinetics-400 mean and
    std (a greyscale frame is repeated to 3 channels), which is what the torchvision weights expect.
    The stem halves H and W and keeps k; layers 2–4 halve H, W and k (k never drops below 1, so
    clips of 1 or 2 frames work). The 512 globally pooled features go through the embedding head.
    ``weights``: a safetensors state dict of the architecture ("" keeps the random initialisation;
    its ``fc`` classifier is ignored); ``freeze``: the backbone gets no gradient and stays in eval
    mode, only the head learns.
    """

    def __init__(self, in_shape: tuple[int, ...], out_dim: int, arch: str = "r3d_18", weights: str = "",
                 freeze: bool = False, projector_hidden: int = 0) -> None:
        super().__init__()
        _, channels, _, _ = clip_shape(in_shape)
        if channels not in (1, 3):
            raise ValueError(f"model.encoder.kind 'video_resnet' reads RGB or greyscale frames; the data has {channels} channels")
        self.backbone = ARCHITECTURES[arch](weights=None)
        if weights:
            load_backbone_weights(self.backbone, weights, classifier="fc")
        features = self.backbone.fc.in_features
        self.backbone.fc = nn.Identity()
        self.set_freeze(freeze)
        self.register_buffer("mean", torch.tensor(KINETICS_MEAN).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(KINETICS_STD).view(1, 3, 1, 1, 1), persistent=False)
        self.token_shape = None
        self.out_dim = out_dim
        self.head = embedding_head(features, out_dim, projector_hidden)

    def forward(self, clips: Tensor) -> Tensor:
        x = as_clips(clips).transpose(1, 2)  # (B, C, k, H, W)
        x = (x.expand(-1, 3, -1, -1, -1) - self.mean) / self.std
        with self.backbone_grad():
            features = self.backbone(x)
        return self.head(features)
