"""Encoders, latent kinds, predictors and the world model that joins them."""

from worldmodel.models.world_model import WorldModel

__all__ = ["WorldModel"]
