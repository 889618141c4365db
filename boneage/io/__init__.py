"""Reading an upload: files (PNG, JPEG, TIFF, 16-bit, DICOM) into a :class:`Radiograph`, form values into sex and age.

``pixels`` holds what every decoder shares; ``decode`` reads rasters and hands DICOM to ``dicom``;
``inputs`` parses the form. Nothing here knows about models.
"""

from boneage.io.decode import ImageSource, load_radiograph
from boneage.io.pixels import Radiograph

__all__ = ["ImageSource", "Radiograph", "load_radiograph"]
