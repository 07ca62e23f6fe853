"""Geometry, the ground floor of au_jax: it imports nothing else of the project but the
`UserError` base class (au_jax/errors.py).

- `landmarks`: the 49-point conventions (68/66 → 49, eye centres, flip, the AU-centre
  refinement and the heat-map cells of Eq. 2), docs/method.md §3.2 and §5;
- `align`: ADLD's similarity alignment of a face on its 49 landmarks (docs/method.md §5);
- `pose`: head pose from the 68 points.
Face detection, and the detect-then-align step that turns a photo into model crops, is
the floor above: `au_jax.faces`.

Every error raised here is a `GeometryError`, a `UserError` and a `ValueError`, with a
one-line message.
"""


from au_jax.errors import UserError


class GeometryError(UserError, ValueError):
  """Landmarks, an image or a detector that geometry cannot work with."""
