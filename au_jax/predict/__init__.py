"""Faces in the wild: photos, folders and videos → faces → batches → CSV rows and overlays.

Each image or video frame: the detector finds the faces and their 68 landmarks
(`au_jax.faces`), each face is aligned exactly as training data were
(docs/method.md §5), the faces of many frames go through the network in fixed-size jitted
batches (`au_jax.inference.Predictor`), and one CSV row per face is written
(docs/method.md §8), with `success=0` rows for frames without a face. `au-jax predict`
is a thin command over `predict_files`.

Videos: each face gets a track id (`au_jax.tracking`), the same person keeping the same
id across frames, and a head pose (`au_jax.geometry.pose`). A reader thread decodes
frames, finds, follows and aligns the faces while the network runs on earlier frames.
With `detect_every` K > 1 the detector runs on every K-th frame only; in between, each
face's landmarks are placed in a box seeded from its landmarks in the last frame, and
the face is kept if the detector confirms it in a small window around that box
(otherwise the frame gets a full detection). `plot_dir` writes a picture and a summary
per video (`au_jax.video_report`).

One module per job:
- `inputs`: which files, their images and video frames (`Unreadable` when OpenCV cannot);
- `rows`: the CSV's columns and rows;
- `follow`: the faces of a frame, detected or followed from the frame before;
- `threads`: the reader thread; `progress`: progress bars and the `Summary`;
- `session`: the run itself (`PredictOptions`, `Session`, `predict_files`, `warm_up`).
"""

# pylint: disable=g-importing-member
from au_jax.predict.inputs import collect_inputs, read_image
from au_jax.predict.progress import Summary
from au_jax.predict.rows import empty_row, face_row, header
from au_jax.predict.session import PredictOptions, Session, predict_files, warm_up
from au_jax.predict.threads import in_thread

__all__ = ['PredictOptions', 'Session', 'Summary', 'collect_inputs', 'empty_row',
           'face_row', 'header', 'in_thread', 'predict_files', 'read_image', 'warm_up']
