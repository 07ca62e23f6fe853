"""Faces in photos: detection with 68-point landmarks, and the alignment into model crops.

The floor above `au_jax.geometry` (landmarks, alignment and their maths).

Face detectors, by name (`DETECTORS`, `make_detector`; `predict --detector` and
`prepare --detect-landmarks --detector`):
- `hog` (`DlibDetector`): dlib's HOG frontal face detector, fast;
- `cnn` (`CnnDetector`): dlib's MMOD CNN detector, robust to pose, occlusion and
  greyscale, about 50x slower on a CPU;
- `blazeface` (`BlazeFaceDetector`): MediaPipe's BlazeFace, fast, for close faces;
- `auto` (`AutoDetector`): HOG, upsampled for small images, plus the CNN where HOG has
  likely missed faces.
Whichever finds a face, dlib's 68-point shape predictor places its landmarks, in a box
moved to where dlib's HOG box would be (the boxes that model was trained on); `models`
finds and loads the model files. benchmarks/detectors.py measures them
(docs/detectors.md). Every box is (x, y, w, h) pixels, as the CSV's face_x..face_h.

`find_faces` detects and aligns every face of a photo as training aligned its data
(docs/method.md §5) and keeps the transform that maps crop pixels back to the photo.
"""

# pylint: disable=g-importing-member
from au_jax.faces.blazeface import BlazeFaceDetector
from au_jax.faces.crops import Face, as_rgb, crop_to_image, find_faces
from au_jax.faces.detectors import (DETECTORS, AutoDetector, check_available,
                                    default_detector, make_detector)
from au_jax.faces.dlib_detectors import CnnDetector, Detection, DlibDetector
from au_jax.faces.models import blazeface_model_path, cnn_model_path, predictor_path

__all__ = ['DETECTORS', 'AutoDetector', 'BlazeFaceDetector', 'CnnDetector', 'Detection',
           'DlibDetector', 'Face', 'as_rgb', 'blazeface_model_path', 'check_available',
           'cnn_model_path', 'crop_to_image', 'default_detector', 'find_faces',
           'make_detector', 'predictor_path']
