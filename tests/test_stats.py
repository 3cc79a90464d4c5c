"""kamapy.stats.together(): counters that move together, one inc() for all of them."""

from kamapy import stats


def test_pair_of_one_group_moves_both_and_nothing_else():
    g = stats.declare("test_together_pair", ["a", "b", "c"])
    both = stats.together(g["a"], g["c"])
    assert type(both).__name__ == "_StatPair"  # the in-place add of one array
    both.inc()
    both.inc()
    assert g.values() == {"a": 2, "b": 0, "c": 2}


def test_three_of_one_group_move_in_one_row():
    g = stats.declare("test_together_row", ["a", "b", "c", "d"])
    three = stats.together(g["a"], g["b"], g["d"])
    assert type(three).__name__ == "_StatRow"
    three.inc()
    assert g.values() == {"a": 1, "b": 1, "c": 0, "d": 1}


def test_counters_of_two_arrays_still_move_together():
    g = stats.declare("test_together_split", ["a"])
    stats.extend("test_together_split", ["late"])  # a second array behind the group
    h = stats.declare("test_together_other", ["x"])
    for counters in ((g["a"], g["late"]), (g["a"], g["late"], h["x"])):
        moved = stats.together(*counters)
        assert type(moved).__name__ == "_StatEach"
        before = [st.get() for st in counters]
        moved.inc()
        assert [st.get() for st in counters] == [v + 1 for v in before]
