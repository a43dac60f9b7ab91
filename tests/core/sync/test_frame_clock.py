"""Frame clock repairs: gap filling, spurious-edge deletion, low-confidence periods in final indices."""

import numpy as np
import pytest

from ace_core.errors import SyncError
from ace_core.sync.frame_clock import check_frame_count, compute_t_ca_im, low_confidence_periods

FR = 20.0


def frames(n, fr=FR, t0=3.0, jitter_s=1e-4, seed=0):
    rng = np.random.default_rng(seed)
    return t0 + np.arange(n) / fr + rng.normal(0, jitter_s, n)


def test_clean_edges_pass_through():
    t = frames(500)
    clock = compute_t_ca_im(t, FR)
    np.testing.assert_array_equal(clock.t_ca_im_s, t)
    assert clock.low_confidence_periods.shape == (0, 2)
    assert clock.n_unrepaired_gaps == 0 and not clock.interpolated.any()


def test_gap_is_filled_with_the_right_frame_count_and_flagged():
    t = frames(500)
    keep = np.ones(500, bool)
    keep[100:107] = False  # 7 edges lost
    clock = compute_t_ca_im(t[keep], FR)
    assert clock.n_frames == 500
    np.testing.assert_allclose(clock.t_ca_im_s, t, atol=1e-3)  # filled times within jitter of the truth
    np.testing.assert_array_equal(np.flatnonzero(clock.interpolated), np.arange(100, 107))
    np.testing.assert_array_equal(clock.low_confidence_periods, [[99, 107]])
    assert clock.gaps[0, 2] == 7


def test_gap_threshold_scales_with_frame_rate():
    # At 15 fps every interval (66.7 ms) exceeds the reference's fixed 0.065 s; ours must see no gap.
    t = frames(300, fr=15.0)
    clock = compute_t_ca_im(t, 15.0, fix_TTL_gaps=False)
    assert clock.n_frames == 300


def test_gaps_without_fixing_raise_with_location():
    t = np.delete(frames(200), np.arange(50, 60))
    with pytest.raises(SyncError, match=r"after edge 49"):
        compute_t_ca_im(t, FR, fix_TTL_gaps=False)


def test_deleted_spurious_edge_and_periods_stay_in_final_indices():
    true = frames(600)
    keep = np.ones(600, bool)
    keep[300:305] = False  # gap after the spurious edge
    keep2 = np.ones(600, bool)
    keep2[450:460] = False  # a second gap, later
    edges = true[keep & keep2]
    spurious = 0.5 * (true[120] + true[121])
    edges = np.sort(np.append(edges, spurious))
    clock = compute_t_ca_im(edges, FR, delete_indices=[121])
    assert clock.n_frames == 600
    np.testing.assert_allclose(clock.t_ca_im_s, true, atol=1e-3)
    # Both rows refer to final frame indices (the reference's later rows go stale).
    np.testing.assert_array_equal(clock.low_confidence_periods, [[299, 305], [449, 460]])


def test_delete_index_out_of_range():
    with pytest.raises(SyncError, match="outside 0..9"):
        compute_t_ca_im(frames(10), FR, delete_indices=[10])


def test_no_edges():
    with pytest.raises(SyncError, match="no frame-sync TTL edges"):
        compute_t_ca_im(np.array([]), FR)


def test_frame_count_check_names_both_numbers():
    clock = compute_t_ca_im(frames(100), FR)
    check_frame_count(clock, 100)
    with pytest.raises(SyncError, match=r"100 frame times .* has 101 frames"):
        check_frame_count(clock, 101)


def test_low_confidence_run_at_the_end():
    flags = np.zeros(10, bool)
    flags[8:] = True
    np.testing.assert_array_equal(low_confidence_periods(flags), [[7, 10]])
