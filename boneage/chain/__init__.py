"""The preprocessing chain: decoded pixels to the square image the model sees.

``preprocess.Chain`` is one model's chain, built from its settings with the networks they name;
``source`` forms the upload as the training images were formed; ``orientation`` sets the hand's
pose; ``gate`` finds the hand and refuses what is not one (``unet`` and ``segmentation`` outline
it); ``imageops`` holds the pixel steps; ``views`` the geometric views of test-time augmentation.
"""

from boneage.chain.preprocess import Chain, PreprocessConfig, PreprocessResult, preprocess

__all__ = ["Chain", "PreprocessConfig", "PreprocessResult", "preprocess"]
