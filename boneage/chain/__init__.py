"""The preprocessing chain: decoded pixels to the square image the model sees.

``source`` forms the upload as the training images were formed; ``unet`` / ``segmentation`` find
the hand, ``orientation`` sets its pose; ``preprocess`` crops, letterboxes and normalises (one
function for training, the app and evaluation); ``views`` holds the geometric views of test-time
augmentation and training.
"""

from boneage.chain.preprocess import PreprocessConfig, PreprocessResult, preprocess, to_model_input

__all__ = ["PreprocessConfig", "PreprocessResult", "preprocess", "to_model_input"]
