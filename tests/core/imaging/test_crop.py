"""Crop coordinates: bottom-left-origin (x0, y0, x1, y1) -> numpy slices, validated against the frame."""

import numpy as np
import pytest

from ace_core.imaging.crop import CropBox, CropError, coords_from_box, crop_box, crop_frames

H, W = 24, 32


def _bottom_left_frame(height: int = H, width: int = W) -> np.ndarray:
    """Pixel value 1000 * y + x, with (x, y) the pixel's position in the GUI's bottom-left-origin space."""
    rows, cols = np.mgrid[0:height, 0:width]
    return 1000 * (height - 1 - rows) + cols


def test_reference_example():
    # Reference section 3.2 item 4 (the upstream test): rows 9..20, cols 2..19 -> 12 x 18.
    box = crop_box((2, 3, 20, 15), H, W)
    assert box == CropBox(row0=9, row1=21, col0=2, col1=20)
    assert box.shape == (12, 18)


def test_orientation_on_an_asymmetric_frame():
    frame = _bottom_left_frame()
    out = crop_frames(frame, crop_box((2, 3, 20, 15), H, W))
    assert out.shape == (12, 18)
    # Bottom-left pixel of the box sits at (x0, y0), top-right at (x1 - 1, y1 - 1) in GUI space.
    assert out[-1, 0] == 1000 * 3 + 2
    assert out[0, -1] == 1000 * 14 + 19
    assert out[0, 0] == 1000 * 14 + 2
    assert out[-1, -1] == 1000 * 3 + 19
    # In row/column terms: rows 9..20, columns 2..19 of the stored frame.
    rows, cols = np.mgrid[0:H, 0:W]
    assert np.array_equal(crop_frames(rows, crop_box((2, 3, 20, 15), H, W))[:, 0], np.arange(9, 21))
    assert np.array_equal(crop_frames(cols, crop_box((2, 3, 20, 15), H, W))[0], np.arange(2, 20))


def test_stack_of_frames_is_cropped_the_same_way():
    movie = np.stack([_bottom_left_frame() + 100_000 * t for t in range(3)])
    box = crop_box((2, 3, 20, 15), H, W)
    out = crop_frames(movie, box)
    assert out.shape == (3, 12, 18)
    assert np.array_equal(out[2], crop_frames(movie[2], box))


@pytest.mark.parametrize("coords", [(2, 3, 20, 15), (20, 15, 2, 3), (2, 15, 20, 3), (20, 3, 2, 15)])
def test_corner_order_does_not_matter(coords):
    assert crop_box(coords, H, W) == CropBox(9, 21, 2, 20)


def test_accepted_forms():
    expected = CropBox(9, 21, 2, 20)
    assert crop_box([2, 3, 20, 15], H, W) == expected
    assert crop_box(np.array([2, 3, 20, 15]), H, W) == expected
    assert crop_box({"x0": 2, "y0": 3, "x1": 20, "y1": 15}, H, W) == expected  # reference's write-back form
    assert crop_box((0, 0, W, H), H, W) == CropBox(0, H, 0, W)  # the whole frame


def test_lab_coordinates_on_a_v4_frame():
    box = crop_box((67, 503, 555, 61), 608, 608)
    assert box == CropBox(row0=105, row1=547, col0=67, col1=555)
    assert box.shape == (442, 488)


@pytest.mark.parametrize(
    "coords", [(2, 3, 20, 15), (0, 0, W, H), (31, 23, 30, 0), (5, 24, 6, 23), (0, 1, 1, 0)]
)
def test_round_trip(coords):
    box = crop_box(coords, H, W)
    back = coords_from_box(box, H)
    assert back[0] < back[2] and back[1] < back[3]
    assert sorted(back[0::2]) == sorted(coords[0::2]) and sorted(back[1::2]) == sorted(coords[1::2])
    assert crop_box(back, H, W) == box


def test_out_of_frame_names_line_value_and_frame_size():
    with pytest.raises(CropError) as info:
        crop_box((2, 3, 40, 15), H, W, line="7")
    message = str(info.value)
    assert message == "line 7: crop_coords (2, 3, 40, 15): x1 = 40 is outside 0..32 (frame width 32)"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("coords", "expected"),
    [
        ((2, -1, 20, 15), "y0 = -1 is outside 0..24 (frame height 24)"),
        ((2, 3, 20, 25), "y1 = 25 is outside 0..24 (frame height 24)"),
        ((33, 3, 20, 15), "x0 = 33 is outside 0..32 (frame width 32)"),
        ((5, 3, 5, 15), "zero width"),
        ((2, 7, 20, 7), "zero height"),
        ((2.5, 3, 20, 15), "x0 = 2.5 is not an integer"),
        ((2, 3.0, 20, 15), "y0 = 3.0 is not an integer"),
        ((2, 3, True, 15), "x1 = True is not an integer"),
        ((2, 3, 20), "expected four integers"),
        ((2, 3, 20, 15, 1), "got 5 values"),
        ("2, 3, 20, 15", "expected four integers"),
        ({"x0": 2, "y0": 3, "x1": 20}, "missing y1"),
    ],
)
def test_invalid_coordinates(coords, expected):
    with pytest.raises(CropError, match="^line 12: crop_coords") as info:
        crop_box(coords, H, W, line=12)
    assert expected in str(info.value)


def test_no_silent_clamping():
    # One pixel too wide is an error, never a box clamped to the frame.
    with pytest.raises(CropError, match="x1 = 33"):
        crop_box((0, 0, 33, 24), H, W)


def test_message_without_line():
    with pytest.raises(CropError, match=r"^crop_coords \(2, 3, 40, 15\): x1 = 40"):
        crop_box((2, 3, 40, 15), H, W)


def test_box_must_fit_the_frames_it_crops():
    box = crop_box((2, 3, 20, 15), H, W)
    with pytest.raises(CropError, match="does not fit"):
        crop_frames(np.zeros((10, 10)), box)
    with pytest.raises(CropError):
        CropBox(5, 5, 0, 3)  # empty
