"""Everything that makes or measures weights; the app never imports it.

``data`` reads the Kaggle layout and caches the chain's output; ``loop`` trains (``train.py``);
``evaluation`` measures through the app's path; ``segmenter`` and ``composite`` train the hand
U-Net; ``pretrained`` loads ImageNet weights; ``download`` fetches the RSNA set.
"""
