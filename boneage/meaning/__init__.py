"""What a bone age means: reference ranges, the calibrated interval, the growth chart, the words in two languages.

Numbers in, meaning out: nothing here loads a model or an image.
"""
