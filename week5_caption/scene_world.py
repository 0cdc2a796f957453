"""The generated scene world: two shapes on a canvas and the one caption that describes them.

    "a small red circle left of a large blue square"
    "a large green triangle above a small yellow circle"

Each scene holds two objects, each a (size, colour, shape) drawn from
SIZES x COLOURS x SHAPES (two objects never share both colour and shape), on a
dark canvas of `image_size` pixels. The two lie clearly side by side or one
clearly above the other (the gap along that axis is at least twice the
offset along the other), so the relation is never in doubt; the caption names
the left (or upper) object first, then "left of" (or "above"), then the other.

Why this world shows what attention adds: a caption is right only when each
attribute is bound to its object and the objects are told apart by where
they are. Show and Tell sees one vector averaged over the CNN's grid, which
holds what is in the image but hardly where, so it must guess which object
comes first and how they lie; Show, Attend and Tell looks at one object per
word (and the generator knows each object's box, so evaluate can check that
it does: the attention hit rate).

Objects sit on an 8 x 8 lattice, the grid of the default 3-block small_cnn,
so every grid cell lies wholly inside or wholly outside an object's box and
the hit rate asks one clean question: does the attention peak on one of the
object's own cells?

Two choices make the attention land on the object itself rather than next
to it (hit rates of benchmarks/caption_scenes.py's show_attend_tell run, all
at 100% exact captions; within one cell of the object 99.9% throughout):
- every pixel carries grain (uniform noise of +-TEXTURE per channel), as a
  photo does: a flat-coloured shape gives a CNN only its edges to respond to,
  and the attention peaked on the cell beside an object's top edge (hit rate
  0.475 without grain, 0.872 with it);
- triangles point up or down at random (the caption says "triangle" either
  way): with every triangle pointing up, the top edge alone told the three
  shapes apart (flat, round, a point), and the shape words' attention peaked
  on the cell just above circles and squares, which sees only that edge; now
  only an object's own cells see all of it (hit rate 0.995).

Everything is NumPy and seeded: the same (count, seed, image_size) gives the
same images, captions and boxes, byte for byte, on any machine.
"""

import numpy as np

SIZES = {"small": 2, "large": 3}          # an object's box side, in lattice steps
COLOURS = {"red": (230, 40, 40), "green": (40, 190, 60), "blue": (60, 90, 240),
           "yellow": (235, 215, 40), "purple": (165, 70, 215)}
SHAPES = ("circle", "square", "triangle")
RELATIONS = {"horizontal": "left of", "vertical": "above"}
BACKGROUND = (24, 24, 32)
LATTICE = 8         # objects sit on a LATTICE x LATTICE lattice of the canvas (see below)
FLIP_TRIANGLES = True   # triangles point up or down at random (see the docstring)
TEXTURE = 40        # +- this much uniform noise on every pixel's channels (grain)
MIN_GAP = 1         # lattice steps between the two boxes along the relation's axis
DOMINANCE = 2.0     # the relation's offset is at least this times the other offset
MAX_SCENES = 200_000
MIN_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 256



def lattice_step(image_size):
    """Pixels per lattice step: an 8x8 lattice, the grid of a 3-block small_cnn."""
    return image_size // LATTICE


def object_side(size_word, image_size):
    return SIZES[size_word] * lattice_step(image_size)


def caption_of(objects, relation):
    """The caption of a scene's two objects [(size, colour, shape, box), ...], named in order."""
    first, second = (" ".join(obj[:3]) for obj in objects)
    return f"a {first} {RELATIONS[relation]} a {second}"


def _attributes(rng):
    """Two (size, colour, shape) triples that differ in colour or shape."""
    sizes, colours = list(SIZES), list(COLOURS)
    while True:
        pair = [(sizes[rng.integers(len(sizes))], colours[rng.integers(len(colours))],
                 SHAPES[rng.integers(len(SHAPES))]) for _ in range(2)]
        if pair[0][1:] != pair[1][1:]:
            return pair


def _place(rng, sides, relation, image_size):
    """Top-left corners (x, y) of two boxes of `sides`, first left of (or above) the second."""
    main, other = (0, 1) if relation == "horizontal" else (1, 0)
    step = lattice_step(image_size)
    for _ in range(1000):
        corners = np.zeros((2, 2), np.int64)
        for i, side in enumerate(sides):
            corners[i] = rng.integers(0, (image_size - side) // step + 1, size=2) * step
        centres = corners + np.asarray(sides)[:, None] / 2.0
        gap = (corners[1, main] - (corners[0, main] + sides[0])) // step
        offset = abs(centres[1, other] - centres[0, other])
        apart = centres[1, main] - centres[0, main]
        if gap >= MIN_GAP and apart >= DOMINANCE * offset:
            return corners
    raise RuntimeError("no placement found")  # unreachable at the sizes above


def draw(canvas, shape, colour, box, upside_down=False):
    """Paints one filled shape into canvas (S, S, 3) uint8 inside box (x0, y0, x1, y1); a
    triangle points up, or down if `upside_down`."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5          # pixel centres in the box
    side = x1 - x0
    if shape == "square":
        inside = np.ones(xs.shape, bool)
    elif shape == "circle":
        inside = (xs - (x0 + x1) / 2) ** 2 + (ys - (y0 + y1) / 2) ** 2 <= (side / 2) ** 2
    else:  # a triangle: its sides widen from the apex (top or bottom centre) to the base
        half_width = ((y1 - ys) if upside_down else (ys - y0)) / 2
        inside = np.abs(xs - (x0 + x1) / 2) <= half_width
    canvas[y0:y1, x0:x1][inside] = colour


def make_scene(rng, image_size):
    """(image (S, S, 3) uint8, caption str, boxes (2, 4) int as x0, y0, x1, y1 per named object)."""
    relation = "horizontal" if rng.integers(2) == 0 else "vertical"
    attributes = _attributes(rng)
    sides = [object_side(size, image_size) for size, _, _ in attributes]
    corners = _place(rng, sides, relation, image_size)
    canvas = np.empty((image_size, image_size, 3), np.uint8)
    canvas[:] = BACKGROUND
    boxes = np.array([[x, y, x + side, y + side] for (x, y), side in zip(corners, sides)])
    for (size, colour, shape), box in zip(attributes, boxes):
        draw(canvas, shape, COLOURS[colour], box,
             upside_down=bool(FLIP_TRIANGLES and shape == "triangle" and rng.integers(2)))
    if TEXTURE:
        noise = rng.integers(-TEXTURE, TEXTURE + 1, canvas.shape)
        canvas[:] = np.clip(canvas.astype(np.int64) + noise, 0, 255)
    objects = [(*attrs, box) for attrs, box in zip(attributes, boxes)]
    return canvas, caption_of(objects, relation), boxes


def generate(count, seed, image_size=64):
    """`count` scenes from `seed`: {"images" (N, S, S, 3) uint8, "captions" [str] (N),
    "boxes" (N, 2, 4) int32}. Scene i depends on (seed, i) alone, so a larger count
    extends a smaller one."""
    if not 0 < count <= MAX_SCENES:
        raise ValueError(f"count must be in 1..{MAX_SCENES}, not {count}")
    if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(f"image_size must be in {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE}")
    images = np.empty((count, image_size, image_size, 3), np.uint8)
    boxes = np.empty((count, 2, 4), np.int32)
    captions = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        images[i], caption, boxes[i] = make_scene(rng, image_size)
        captions.append(caption)
    return {"images": images, "captions": captions, "boxes": boxes}


def mentioned_objects(words):
    """Per word of a caption (emitted, so perhaps wrong), the object it describes: 0 before
    the relation ("left" or "above"), 1 after; None for a word that names no attribute
    scored by the hit rate (anything but a colour or a shape)."""
    owners, owner = [], 0
    for word in words:
        if word in ("left", "above"):
            owner = 1
        owners.append(owner if word in COLOURS or word in SHAPES else None)
    return owners


def peak_pixel(weights, image_size):
    """(x, y) image pixel of the centre of the grid cell where weights (h, w) peak."""
    h, w = weights.shape
    row, column = divmod(int(np.argmax(weights)), w)
    return (column + 0.5) * image_size / w, (row + 0.5) * image_size / h


def attention_hits(words, attention, boxes, image_size, margin=0):
    """One bool per colour or shape word of `words`: whether its step's attention (T, h, w)
    peaks inside the box (x0, y0, x1, y1) of the object it describes (boxes (2, 4)).

    margin: grid cells the box is widened by on every side (0: the peak cell is one of
    the object's own cells; 1: it is one of them or touches one)."""
    hits = []
    for t, owner in enumerate(mentioned_objects(words)):
        if owner is None:
            continue
        x, y = peak_pixel(attention[t], image_size)
        pad_x = margin * image_size / attention.shape[2]
        pad_y = margin * image_size / attention.shape[1]
        x0, y0, x1, y1 = boxes[owner]
        hits.append(bool(x0 - pad_x <= x < x1 + pad_x and y0 - pad_y <= y < y1 + pad_y))
    return hits
