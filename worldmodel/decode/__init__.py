"""The pixel decoder: frames from a frozen world model's embeddings (fit, save, load, score)."""

from worldmodel.decode.model import DecoderConfig, FrameDecoder
from worldmodel.decode.store import DecoderError, has_decoder, load_decoder

__all__ = ["DecoderConfig", "DecoderError", "FrameDecoder", "has_decoder", "load_decoder"]
